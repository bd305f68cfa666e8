/** The demo category tree, flattened and indexed: departments, subcategories and leaves as nodes. */
import type { DepartmentSpec, LeafSpec } from './catalogue-vocabulary.ts';
import { DEPARTMENTS } from './catalogue-vocabulary.ts';

export interface CategoryNode {
  /** `Home`, `Home > Kitchen` or `Home > Kitchen > Mugs`. */
  path: string;
  /** 0 = department, 1 = subcategory, 2 = leaf. */
  depth: 0 | 1 | 2;
  /** Node index of the parent; -1 for departments. */
  parent: number;
  department: number;
  /** Leaf indices under this node (just its own for a leaf), ascending. */
  leaves: Int32Array;
}

export interface CategoryTree {
  departments: readonly DepartmentSpec[];
  /** Depth-first: each department, then its subcategories, each followed by its leaves. */
  nodes: CategoryNode[];
  /** Leaf index → node index. */
  leafNode: Int32Array;
  /** Leaf index → its vocabulary. */
  leafSpecs: LeafSpec[];
  /** Leaf index → department index. */
  leafDepartment: Int32Array;
  nodeByPath: Map<string, number>;
}

export const PATH_SEPARATOR = ' > ';

/** Builds the indexed tree from a vocabulary (the built-in one by default). */
export function buildCategoryTree(departments: readonly DepartmentSpec[] = DEPARTMENTS): CategoryTree {
  const nodes: CategoryNode[] = [];
  const leafNode: number[] = [];
  const leafSpecs: LeafSpec[] = [];
  const leafDepartment: number[] = [];
  const nodeByPath = new Map<string, number>();
  const add = (path: string, depth: 0 | 1 | 2, parent: number, department: number): number => {
    if (nodeByPath.has(path)) throw new RangeError(`duplicate category ${path}`);
    nodes.push({ path, depth, parent, department, leaves: new Int32Array(0) });
    nodeByPath.set(path, nodes.length - 1);
    return nodes.length - 1;
  };
  departments.forEach((dept, d) => {
    const deptNode = add(dept.name, 0, -1, d);
    const deptLeaves: number[] = [];
    for (const sub of dept.subcategories) {
      const subNode = add(dept.name + PATH_SEPARATOR + sub.name, 1, deptNode, d);
      const subLeaves: number[] = [];
      for (const leaf of sub.leaves) {
        const node = add(nodes[subNode]!.path + PATH_SEPARATOR + leaf.name, 2, subNode, d);
        const index = leafSpecs.length;
        nodes[node]!.leaves = Int32Array.of(index);
        leafNode.push(node);
        leafSpecs.push(leaf);
        leafDepartment.push(d);
        subLeaves.push(index);
      }
      nodes[subNode]!.leaves = Int32Array.from(subLeaves);
      deptLeaves.push(...subLeaves);
    }
    nodes[deptNode]!.leaves = Int32Array.from(deptLeaves);
  });
  return {
    departments,
    nodes,
    leafNode: Int32Array.from(leafNode),
    leafSpecs,
    leafDepartment: Int32Array.from(leafDepartment),
    nodeByPath,
  };
}
