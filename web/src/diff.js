// The overrides that turn one config into another, as a nested patch: changed leaves only, and the whole
// dataset block when anything in it changed (another dataset kind replaces the block on the server).

const isObject = (v) => v && typeof v === "object" && !Array.isArray(v);

export function configDiff(base, next) {
  const out = {};
  for (const [key, value] of Object.entries(next)) {
    const before = base ? base[key] : undefined;
    if (key === "dataset") {
      if (JSON.stringify(before) !== JSON.stringify(value)) out.dataset = value;
    } else if (isObject(value)) {
      const inner = configDiff(before || {}, value);
      if (Object.keys(inner).length) out[key] = inner;
    } else if (JSON.stringify(before) !== JSON.stringify(value)) out[key] = value;
  }
  return out;
}
