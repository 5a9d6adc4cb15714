// What a 2D run's field view draws beside the data and the samples, by what the run's model has: D's heatmap and
// G's pull (the gradient D gives each sample) exist only where there is a discriminator (a GAN), and the manifold,
// the image of a latent grid, only where samples come from a latent code (G, or an AE's or VAE's decoder; a MADE
// has none: it turns noise into its categorical draws one dimension at a time). The schema says which family has
// which (`hasDiscriminator`, and who reads model.z_dim), so no family name is written here. Pure: no DOM.
import { appliesTo, fields, hasDiscriminator } from "./schema.js";

/** @typedef {{discriminator: boolean, latent: boolean}} FieldModel
 * @typedef {{label: string, key: string, title: string}} ManifoldText
 * @typedef {{heat: boolean, pull: boolean, manifold: ManifoldText | null, aria: string}} FieldLayers */

/** @type {Record<"generator" | "decoder", ManifoldText>} */
export const MANIFOLD_TEXT = {
  generator: { label: "G's manifold", key: "G's image of the latent grid",
    title: "G's image of a square grid of latent points: how G warps the latent plane (a 2D slice of it when z has more than 2 dimensions)" },
  decoder: { label: "decoder's manifold", key: "decoder's image of the latent grid",
    title: "The decoder's image of a square grid of latent points: how it maps the latent plane onto the data (a 2D slice of it when z has more than 2 dimensions)" },
};

const zDims = new WeakMap(); // schema → its model.z_dim descriptor (asked on every frame of the run view)

/** Whether a family samples from a latent code, as the schema tells it: it reads model.z_dim.
 * @param {any} root @param {string | undefined} family */
export function hasLatent(root, family) {
  if (!zDims.has(root)) zDims.set(root, fields(root).find((f) => f.path === "model.z_dim") || null);
  const z = zDims.get(root);
  return !z || appliesTo(z, family);
}

/** What a run of `family` has to show in the field view.
 * @param {any} root @param {string | undefined} family @returns {FieldModel} */
export function fieldModel(root, family) {
  return { discriminator: hasDiscriminator(root, family), latent: hasLatent(root, family) };
}

/** The layers to draw for one field frame: a layer needs both the model to have it (`model`, when the view knows
 * the run's family) and the frame to carry it (the server leaves out what a family has not). Without `model`, the
 * frame alone decides, and a manifold in a frame without D's grid is a decoder's.
 * @param {{d?: any, directions?: any, manifold?: any}} frame @param {FieldModel | null} [model]
 * @returns {FieldLayers} */
export function fieldLayers(frame, model = null) {
  const discriminator = model ? model.discriminator : Boolean(frame.d);
  const heat = discriminator && Boolean(frame.d);
  const pull = discriminator && Boolean(frame.directions);
  const latent = (model ? model.latent : true) && Boolean(frame.manifold);
  const manifold = latent ? MANIFOLD_TEXT[discriminator ? "generator" : "decoder"] : null;
  const shown = ["real data", "generated samples", heat && "D's heatmap", pull && "G's pull on each sample",
    manifold && `${manifold.key} (a layer to switch on)`].filter(Boolean);
  const aria = `Field view: ${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
  return { heat, pull, manifold, aria };
}
