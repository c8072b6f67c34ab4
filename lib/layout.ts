/** Key prefixes of the S3 layout (docs/design.md), shared by the stack's IAM policies and the handlers. */
export const DATASETS_PREFIX = "datasets/";
export const LATEST_DATASET_KEY = `${DATASETS_PREFIX}latest.json`;
export const CODE_PREFIX = "code/";
export const TRAINING_OUTPUT_PREFIX = "training-output/";
export const CHECKPOINTS_PREFIX = "checkpoints/";
export const BASE_WEIGHTS_PREFIX = "base-weights/";
/** Where SageMaker puts a job's input channels inside the training container. */
export const CONTAINER_CHANNELS_DIR = "/opt/ml/input/data/";
/** Training jobs, and the IAM statements that scope them, share this name prefix. */
export const TRAINING_JOB_NAME_PREFIX = "bootboots-";
/** The labelling queue that `bootboots suggest` writes and `bootboots label` works through. */
export const LABELLING_QUEUE_KEY = "labelling/queue.json";
/** The review queue of suspect labels that `bootboots review` writes and `bootboots label --review` works through. */
export const REVIEW_QUEUE_KEY = "labelling/review.json";
/** The scheduled retraining check's last result, which `bootboots status` shows. */
export const RETRAIN_CHECK_KEY = "retrain/last-check.json";
