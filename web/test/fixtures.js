// Shared inputs of the unit tests: a /api/meta answer in the server's shape, and a RunConfig JSON schema in
// pydantic's shape ($defs and $ref, anyOf with null, a discriminated dataset union, a pair, a live flag).

export const META = {
  statuses: {
    all: ["queued", "starting", "running", "paused", "completed", "stopped", "failed", "diverged", "interrupted"],
    live: ["queued", "starting", "running", "paused"],
    final: ["completed", "stopped", "failed", "diverged"],
    patchable: ["starting", "running", "paused"],
    actions: { pause: ["running"], resume: ["paused", "interrupted"], stop: ["queued", "starting", "running", "paused"] },
  },
  alerts: [{ kind: "mode_collapse", title: "Mode collapse" },
    { kind: "d_overpowering", title: "The discriminator is overpowering the generator" }],
  metrics: [{ name: "d_loss", label: "D loss", summary: true }, { name: "g_loss", label: "G loss", summary: true },
    { name: "modes_covered", label: "modes covered", summary: true }, { name: "hq_fraction", label: "hq fraction" },
    { name: "it_per_s", label: "it/s" }],
  charts: [
    { id: "loss", title: "Loss", testid: "loss-chart", points: false,
      series: [{ name: "d_loss", label: "D loss", axis: "y" }, { name: "g_loss", label: "G loss", axis: "y" }] },
    { id: "quality", title: "Quality", points: true,
      series: [{ name: "modes_covered", axis: "y" }, { name: "hq_fraction", label: "hq fraction", axis: "y2" }] },
    { id: "speed", title: "Speed (it/s)", points: false, series: [{ name: "it_per_s", label: "it/s", axis: "y" }] },
    { id: "again", title: "Loss again", points: false, series: [{ name: "d_loss", label: "D loss", axis: "y" }] },
  ],
};

export const SCHEMA = {
  type: "object",
  properties: {
    seed: { type: "integer", default: 0, minimum: 0, maximum: 2147483647, title: "Seed", live: false },
    device: { type: "string", default: "auto", pattern: "^(auto|cpu|cuda(:\\d+)?)$", title: "Device", live: false },
    steps: { type: "integer", default: 5000, minimum: 1, maximum: 10000000, title: "Steps", live: true },
    dataset: {
      discriminator: { propertyName: "kind", mapping: { ring: "#/$defs/RingData", upload: "#/$defs/UploadData" } },
      oneOf: [{ $ref: "#/$defs/RingData" }, { $ref: "#/$defs/UploadData" }],
    },
    train: { $ref: "#/$defs/TrainConfig" },
    tricks: { $ref: "#/$defs/TricksConfig" },
  },
  $defs: {
    RingData: { type: "object", properties: {
      kind: { const: "ring", default: "ring", type: "string", description: "Gaussians on a circle." },
      modes: { type: "integer", default: 8, minimum: 2, maximum: 64 } } },
    UploadData: { type: "object", properties: {
      kind: { const: "upload", default: "upload", type: "string", description: "An uploaded file." },
      id: { type: "string", minLength: 32, maxLength: 32, pattern: "^[0-9a-f]+$" } } },
    TrainConfig: { type: "object", properties: {
      lr_d: { type: "number", default: 0.0002, exclusiveMinimum: 0, maximum: 1, title: "Lr D", live: true },
      loss: { type: "string", enum: ["minimax", "nonsaturating", "wgan"], default: "nonsaturating", live: true },
      betas: { type: "array", prefixItems: [{ type: "number" }, { type: "number" }], default: [0.5, 0.999], live: true },
      clip: { anyOf: [{ type: "number", exclusiveMinimum: 0, exclusiveMaximum: 100 }, { type: "null" }], default: null,
        title: "Clip", live: true } } },
    TricksConfig: { type: "object", properties: {
      unroll_steps: { type: "integer", default: 0, minimum: 0, maximum: 20, live: true },
      instance_noise: { $ref: "#/$defs/InstanceNoise" } } },
    InstanceNoise: { type: "object", properties: {
      std: { type: "number", default: 0, minimum: 0, maximum: 5, live: true },
      anneal_steps: { type: "integer", default: 0, minimum: 0, maximum: 1000000, live: true } } },
  },
};
