"""A local stand-in for SageMaker's InvokeEndpoint in front of TF Serving.

It loads a SavedModel that train.py exported and answers as the TensorFlow Serving
container does: `{"instances": [{"b64": ...}]}` in, `{"predictions": [[...]]}` out, naming
the production variant that answered in `X-Amzn-Invoked-Production-Variant` as SageMaker
does. `PUT /stand-in/variant` (body: the name) changes that variant, as an endpoint update
moves traffic from one model's variant to the next.
Usage: python endpoint_server.py --model-dir DIR --endpoint-name NAME --port PORT [--variant NAME]
"""

import argparse
import base64
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tensorflow as tf


def make_handler(serve, endpoint_name, variant):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, body, error_type=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            else:
                self.send_header("X-Amzn-Invoked-Production-Variant", variant["name"])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def model_error(self, status, message):
            # SageMaker wraps the container's error: 424 ModelError with the original status.
            self.reply(
                424,
                {
                    "message": f'Received client error ({status}) from primary with message "{message}"',
                    "OriginalStatusCode": status,
                },
                "ModelError",
            )

        def do_PUT(self):
            length = int(self.headers.get("Content-Length", 0))
            if self.path != "/stand-in/variant":
                return self.reply(404, {"message": f"unknown path {self.path}"}, "UnknownOperationException")
            variant["name"] = self.rfile.read(length).decode()
            self.reply(200, {"variant": variant["name"]})

        def do_POST(self):
            parts = self.path.strip("/").split("/")
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
                return self.reply(404, {"message": f"unknown path {self.path}"}, "UnknownOperationException")
            if parts[1] != endpoint_name:
                return self.reply(
                    400, {"message": f"Endpoint {parts[1]} of account 123456789012 not found."}, "ValidationError"
                )
            if len(body) > 4 * 1024 * 1024:
                return self.reply(413, {"message": "Request payload exceeds the 4 MB limit."}, "ValidationError")
            if self.headers.get("Content-Type") != "application/json":
                return self.model_error(415, f"Unsupported Media Type: {self.headers.get('Content-Type')}")
            try:
                instances = json.loads(body)["instances"]
                images = [base64.b64decode(instance["b64"]) for instance in instances]
                outputs = serve(image_bytes=tf.constant(images))
            except (KeyError, TypeError, ValueError) as error:
                return self.model_error(400, f"malformed request: {error}")
            except tf.errors.InvalidArgumentError as error:
                return self.model_error(400, error.message)
            probabilities = next(iter(outputs.values())).numpy().tolist()
            self.reply(200, {"predictions": probabilities})

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--variant", default="AllTraffic")
    args = parser.parse_args()
    serve = tf.saved_model.load(f"{args.model_dir}/1").signatures["serving_default"]
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(serve, args.endpoint_name, {"name": args.variant})
    )
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
