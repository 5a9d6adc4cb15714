// The generator's manifold (models/manifold.py) as lines to draw: G's image of a latent grid, each grid row and
// each grid column joined point to point, so the picture shows how G stretches and folds the latent plane (GAN
// Lab's warped grid). Pure: the field view draws what this returns.

/**
 * The grid's lines: its rows (points [i, 0…C−1]) then its columns (points [0…R−1, j]), each a list of [x, y].
 * `manifold` is the frame's array: nested (R, C, 2) lists, or flat numbers (a typed array off a binary frame)
 * read with `shape` [R, C, 2]. Nothing to draw (no manifold, a shape that does not fit it) gives [].
 * @param {any} manifold @param {number[] | undefined} shape @returns {[number, number][][]}
 */
export function manifoldLines(manifold, shape) {
  if (!manifold || !manifold.length) return [];
  let at;
  let rows, cols;
  if (Array.isArray(manifold[0])) {
    rows = manifold.length;
    cols = manifold[0].length;
    at = (i, j) => manifold[i][j];
  } else {
    if (!shape || shape.length !== 3 || shape[2] !== 2 || shape[0] * shape[1] * 2 !== manifold.length) return [];
    [rows, cols] = shape;
    at = (i, j) => [manifold[(i * cols + j) * 2], manifold[(i * cols + j) * 2 + 1]];
  }
  const lines = [];
  for (let i = 0; i < rows; i++) lines.push(Array.from({ length: cols }, (_, j) => at(i, j)));
  for (let j = 0; j < cols; j++) lines.push(Array.from({ length: rows }, (_, i) => at(i, j)));
  return lines;
}
