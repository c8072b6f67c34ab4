import { Moto, startMoto } from "./moto";

/** One moto server for the whole run, started before the first test. */
export let moto: Moto;

export const mochaHooks = {
    async beforeAll(this: Mocha.Context) {
        this.timeout(60_000);
        Object.assign(process.env, {
            AWS_ACCESS_KEY_ID: "testing",
            AWS_SECRET_ACCESS_KEY: "testing",
            AWS_REGION: "eu-west-2",
            AWS_EC2_METADATA_DISABLED: "true",
        });
        delete process.env.AWS_PROFILE;
        moto = await startMoto();
    },
    async afterAll() {
        await moto?.stop();
    },
};
