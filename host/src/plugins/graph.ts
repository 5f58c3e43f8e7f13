/**
 * Dependency order of plugins (Kahn's algorithm). Nodes left over after the sort sit on or behind a cycle;
 * each cycle is reported once as a path "a → b → a".
 */
export function topoSort(nodes: string[], deps: (id: string) => string[]): { order: string[]; cycles: string[][] } {
  const set = new Set(nodes);
  const indegree = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const n of nodes) {
    indegree.set(n, 0);
    dependants.set(n, []);
  }
  for (const n of nodes) {
    for (const d of deps(n)) {
      if (!set.has(d)) continue;
      indegree.set(n, indegree.get(n)! + 1);
      dependants.get(d)!.push(n);
    }
  }
  const queue = nodes.filter((n) => indegree.get(n) === 0).sort();
  const order: string[] = [];
  while (queue.length) {
    const n = queue.shift()!;
    order.push(n);
    for (const m of dependants.get(n)!) {
      indegree.set(m, indegree.get(m)! - 1);
      if (indegree.get(m) === 0) queue.push(m);
    }
  }
  const rest = nodes.filter((n) => !order.includes(n));
  const cycles: string[][] = [];
  const onCycle = new Set<string>();
  for (const start of rest) {
    if (onCycle.has(start)) continue;
    // walk dependencies inside the remainder until a node repeats
    const path: string[] = [];
    let cur: string | undefined = start;
    while (cur && !path.includes(cur)) {
      path.push(cur);
      cur = deps(cur).find((d) => rest.includes(d));
    }
    if (cur) {
      const cycle = path.slice(path.indexOf(cur));
      if (!cycle.some((c) => onCycle.has(c))) {
        cycle.forEach((c) => onCycle.add(c));
        cycles.push([...cycle, cur]);
      }
    }
  }
  return { order, cycles };
}
