"""Exact k-nearest-neighbour regression in the plane, fast for many queries and few references.

Algorithm 2 of Iliopoulos et al. (Weighted Distillation with Unlabeled Examples, NeurIPS
2022, lines 14-16) averages the responses of the k nearest validation points of every
unlabeled example in a 2-D space. A k-d tree answers one query at a time; here the
queries are bucketed on a grid over the plane and every bucket compares its queries with
the few reference points that can be their neighbours, all at once.

A query q in a square cell of centre c and half-diagonal h has its k-th nearest
reference within |q − c| + r_c ≤ h + r_c, r_c the distance from c to its own k-th
nearest reference; so all its k nearest lie within 2h + r_c of c, the cell's candidates.

Ties: references at equal distance are taken by increasing index, and the k responses are
averaged in order of increasing distance, as ``sklearn.neighbors.KNeighborsRegressor``
does; sklearn breaks ties in its tree's order, so the two agree exactly whenever the k-th
and (k+1)-th distances differ or the tied references have the same response.
"""

import concurrent.futures
import dataclasses
import math
import os

import numpy as np
from scipy.spatial import cKDTree

QUERIES_PER_CELL = 512
"""A cell is split while it holds more queries: enough queries per cell to amortise the
per-cell work, cells small against the neighbourhoods so that few candidates are compared."""

MAX_DEPTH = 24
"""Cells stop splitting at 2^-24 of the queries' extent (many identical queries)."""


def grid_cells(points, lower, cell_size, cells_per_side):
    """The flat index of the grid cell of every point [N, 2] -> [N]."""
    cell = np.floor((points - lower) / cell_size).astype(np.int64)
    cell = np.clip(cell, 0, cells_per_side - 1)
    return cell[:, 0] * cells_per_side + cell[:, 1]


@dataclasses.dataclass(frozen=True)
class Leaves:
    """Square cells covering the queries: centres [L, 2], half-diagonals [L], and the
    indices of the queries in each cell (a list of L arrays)."""

    centres: np.ndarray
    half_diagonals: np.ndarray
    members: list


def quadtree_leaves(queries, lower, extent):
    """Split the square [lower, lower + extent]² into quarters until every cell holds at
    most `QUERIES_PER_CELL` queries (or is `MAX_DEPTH` levels deep): dense regions of the
    plane get small cells, whose candidates are few."""
    centres, half_diagonals, members = [], [], []
    remaining = np.arange(len(queries))
    for depth in range(MAX_DEPTH + 1):
        cells_per_side = 2**depth
        cell_size = extent / cells_per_side
        cell = grid_cells(queries[remaining], lower, cell_size, cells_per_side)
        order = np.argsort(cell, kind="stable")
        ids, starts, counts = np.unique(cell[order], return_index=True, return_counts=True)
        final = (counts <= QUERIES_PER_CELL) | (depth == MAX_DEPTH)
        for cell_id, start, count in zip(ids[final], starts[final], counts[final], strict=True):
            centres.append(lower + cell_size * (np.array(divmod(cell_id, cells_per_side)) + 0.5))
            half_diagonals.append(cell_size * math.sqrt(2) / 2)
            members.append(remaining[order[start : start + count]])
        keep = np.repeat(~final, counts)
        remaining = remaining[order[keep]]
        if not remaining.size:
            break
    return Leaves(np.array(centres).reshape(-1, 2), np.array(half_diagonals), members)


def nearest_in_cell(queries, references, responses, candidates, k):
    """Mean response of the k nearest of `candidates` (sorted reference indices) per query."""
    points = references[candidates]
    squared = queries[:, :1] - points[:, 0]
    squared *= squared
    dy = queries[:, 1:] - points[:, 1]
    dy *= dy
    squared += dy
    nearest = np.argpartition(squared, k - 1, axis=1)[:, :k]
    distances = np.take_along_axis(squared, nearest, axis=1)
    kth = distances.max(axis=1)
    tied = (squared <= kth[:, None]).sum(axis=1) > k
    if tied.any():
        nearest[tied] = np.argsort(squared[tied], axis=1, kind="stable")[:, :k]
        distances[tied] = np.take_along_axis(squared[tied], nearest[tied], axis=1)
    order = np.lexsort((nearest, distances), axis=1)
    nearest = np.take_along_axis(nearest, order, axis=1)
    return responses[candidates[nearest]].mean(axis=1)


def knn_regression(references, responses, queries, k):
    """Mean of the responses of the k nearest references (Euclidean) of every query.

    Args:
      references: [M, 2] points, M >= k.
      responses: [M, R] their responses.
      queries: [N, 2] points.
      k: number of neighbours, 1 <= k <= M.

    Returns:
      [N, R] float64: ``KNeighborsRegressor(n_neighbors=k).fit(references,
      responses).predict(queries)`` (ties as the module docstring says).
    """
    references = np.asarray(references, dtype=np.float64)
    responses = np.asarray(responses, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    predictions = np.empty((len(queries), responses.shape[1]))
    if len(queries) == 0:
        return predictions
    lower = queries.min(axis=0)
    extent = max(float((queries.max(axis=0) - lower).max()), np.finfo(float).tiny)
    leaves = quadtree_leaves(queries, lower, extent)
    tree = cKDTree(references)
    kth_distance = tree.query(leaves.centres, k=[k])[0][:, 0]
    # The radius is widened by a relative 1e-9 so that rounding never drops a candidate.
    radii = (2 * leaves.half_diagonals + kth_distance) * (1 + 1e-9)
    candidate_lists = tree.query_ball_point(leaves.centres, radii)

    def predict(leaf):
        rows = leaves.members[leaf]
        predictions[rows] = nearest_in_cell(
            queries[rows], references, responses, np.sort(candidate_lists[leaf]), k
        )

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(predict, range(len(leaves.members))))
    return predictions
