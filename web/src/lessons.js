// The gallery's pure logic: the chapter's lessons (GET /api/lessons, already in the chapter's order, which the
// gallery keeps) as cards, each problem preset paired with the fix preset that shows its cure on the same data, a
// taxonomy lesson's sets of presets to start together (one per dataset) with each model family's kind of density.
// Which stored run may stand for a preset's picture the server says (GET /api/presets/runs).

/**
 * @typedef {{name: string, kind: string, title: string, chapter: string, problem: string[], fix: string[],
 *   sweeps: string[], watch: string[], together?: string[][]}} Lesson
 * @typedef {{problem: string, fix: string}} Pair
 * @typedef {{name: string, presets: string[]}} TogetherSet
 * @typedef {{lesson: Lesson, pairs: Pair[], solo: string[], sets: TogetherSet[]}} Card
 */

const kindOf = (presets, name) => presets.find((p) => p.name === name)?.config.dataset.kind;

/**
 * Pairs of (problem, fix) presets to run side by side: each fix with the first problem on the same kind of data
 * (a Dirac-GAN fix beside the Dirac-GAN, a ring fix beside the ring), else the problem at its own position, else
 * the first. Presets this server does not have are left out.
 * @param {Lesson} lesson @param {{name: string, config: any}[]} presets @returns {Pair[]}
 */
export function lessonPairs(lesson, presets) {
  const known = (name) => presets.some((p) => p.name === name);
  const problems = lesson.problem.filter(known);
  const pairs = [];
  lesson.fix.filter(known).forEach((fix) => {
    if (!problems.length) return;
    const same = problems.find((p) => kindOf(presets, p) === kindOf(presets, fix));
    const problem = same ?? problems[Math.min(pairs.length, problems.length - 1)];
    if (!pairs.some((pair) => pair.problem === problem && pair.fix === fix)) pairs.push({ problem, fix });
  });
  return pairs;
}

/**
 * One card per lesson, in the order the server gave (the chapter's): its pairs, and the presets that have no
 * partner (a fix the chapter shows on its own, like DCGAN, or a problem without a fix preset).
 * @param {Lesson[]} lessons @param {{name: string, config: any}[]} presets @returns {Card[]}
 */
export function lessonCards(lessons, presets) {
  return lessons.map((lesson) => {
    const pairs = lessonPairs(lesson, presets);
    const paired = new Set(pairs.flatMap((p) => [p.problem, p.fix]));
    const solo = [...lesson.problem, ...lesson.fix].filter((n) => !paired.has(n) && presets.some((p) => p.name === n));
    return { lesson, pairs, solo: pairs.length ? [] : [...new Set(solo)], sets: togetherSets(lesson, presets) };
  });
}

/**
 * A taxonomy lesson's sets of presets to start at once and watch side by side (`together`), each named by the
 * dataset its presets train on ("ring", "digits"). Presets this server does not have are left out, and a set with
 * fewer than two left is no comparison.
 * @param {Lesson} lesson @param {{name: string, config: any}[]} presets @returns {TogetherSet[]}
 */
export function togetherSets(lesson, presets) {
  return (lesson.together || [])
    .map((names) => names.filter((n) => presets.some((p) => p.name === n)))
    .filter((names) => names.length >= 2)
    .map((names) => ({ name: [...new Set(names.map((n) => kindOf(presets, n)))].join(" and "), presets: names }));
}

// The chapter's taxonomy of generative models (6.2), by the kind of density each model family gives.
const DENSITY = { made: "explicit", vae: "approximate", ae: "approximate", gan: "implicit" };

/**
 * A model family's place in the taxonomy, for a role tag: {kind: "explicit", text: "explicit: MADE"}. A family the
 * page does not place is named alone.
 * @param {string} family config.model.family
 */
export function familyRole(family) {
  const name = String(family || "gan");
  const kind = DENSITY[name];
  return { kind: kind || name, text: kind ? `${kind}: ${name.toUpperCase()}` : name.toUpperCase() };
}

/**
 * The fix's overrides that start it on the problem's seed, so the two differ only by the fix. The same for a set
 * started together: each preset on the first one's seed.
 * @param {{config: any}} problem @param {{config: any}} fix
 */
export function pairOverrides(problem, fix) {
  return problem.config.seed === fix.config.seed ? {} : { seed: problem.config.seed };
}

