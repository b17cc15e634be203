"""Exact k-nearest-neighbour regression in the plane, fast for many queries and few references.

Algorithm 2 of Iliopoulos et al. (Weighted Distillation with Unlabeled Examples, NeurIPS
2022, lines 14-16) averages the responses of the k nearest validation points of every
unlabeled example in a 2-D space. A k-d tree answers one query at a time; here the
queries are bucketed in the leaves of a quadtree over the plane and every leaf compares
its queries with the few reference points that can be their neighbours, all at once.

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

QUERIES_PER_CELL = 128
"""A cell is split while it holds more queries: enough queries per cell to amortise the
per-cell work, cells small against the neighbourhoods so that few candidates are compared
(with |V| = 10,000 and k = 50, about 110 per cell)."""

TASKS_PER_CORE = 8
"""The cells are shared out in this many runs of consecutive cells per core."""

MAX_DEPTH = 24
"""Cells stop splitting at 2^-24 of the queries' extent (many identical queries)."""

SPREAD_MASKS = (
    (16, 0x0000FFFF0000FFFF),
    (8, 0x00FF00FF00FF00FF),
    (4, 0x0F0F0F0F0F0F0F0F),
    (2, 0x3333333333333333),
    (1, 0x5555555555555555),
)
"""Shifts and masks that move bit i of a 32-bit integer to bit 2i (`morton_codes`)."""


def finest_cells(points, lower, extent):
    """The (column, row) [N, 2] of every point in the 2^MAX_DEPTH × 2^MAX_DEPTH grid over
    the square [lower, lower + extent]²; a point on the upper edge is in the last cell."""
    side = 2**MAX_DEPTH
    cells = np.floor((points - lower) / (extent / side)).astype(np.int64)
    return np.clip(cells, 0, side - 1)


def morton_codes(cells):
    """Z-order codes [N] of grid cells [N, 2]: the bits of column and row interleaved.

    The cell of depth d holding a point is its code's top 2d bits (of 2 · MAX_DEPTH), so
    the points of any quadtree cell are one contiguous run of the sorted codes.
    """
    spread = []
    for coordinate in (cells[:, 0], cells[:, 1]):
        bits = coordinate.copy()
        for shift, mask in SPREAD_MASKS:
            bits = (bits | (bits << shift)) & mask
        spread.append(bits)
    return (spread[0] << 1) | spread[1]


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
    plane get small cells, whose candidates are few.

    The queries are sorted once by `morton_codes`; a cell is a run of that order, and its
    four quarters are found by binary search.
    """
    cells = finest_cells(queries, lower, extent)
    codes = morton_codes(cells)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    centres, half_diagonals, members = [], [], []
    stack = [(0, 0, 0, 0, len(queries))]  # depth, column, row, start, stop
    while stack:
        depth, column, row, start, stop = stack.pop()
        size = extent / 2**depth
        if stop - start <= QUERIES_PER_CELL or depth == MAX_DEPTH:
            centres.append(lower + size * (np.array([column, row]) + 0.5))
            half_diagonals.append(size * math.sqrt(2) / 2)
            members.append(order[start:stop])
            continue
        shift = 2 * (MAX_DEPTH - depth - 1)
        prefix = codes[start] >> (shift + 2)
        bounds = np.searchsorted(
            codes[start:stop], [(4 * prefix + quarter) << shift for quarter in (1, 2, 3)]
        )
        edges = [start, *(start + int(bound) for bound in bounds), stop]
        for quarter in range(4):
            if edges[quarter] < edges[quarter + 1]:
                child = (2 * column + quarter // 2, 2 * row + quarter % 2)
                stack.append((depth + 1, *child, edges[quarter], edges[quarter + 1]))
    return Leaves(np.array(centres).reshape(-1, 2), np.array(half_diagonals), members)


def nearest_in_cell(queries, references, responses, candidates, k):
    """Mean response of the k nearest of `candidates` (sorted reference indices) per query.

    Every query's candidates are sorted by distance; a row with equal distances among its
    k + 1 nearest is sorted again stably (ties by index). The responses are summed in
    order of increasing distance (a cumulative sum, as ``np.mean`` over the neighbour axis
    adds them one after another), then divided by k.
    """
    points = references[candidates]
    squared = queries[:, :1] - points[:, 0]
    squared *= squared
    dy = queries[:, 1:] - points[:, 1]
    dy *= dy
    squared += dy
    order = np.argsort(squared, axis=1)[:, : k + 1]
    distances = np.take_along_axis(squared, order, axis=1)
    nearest = order[:, :k]
    tied = (distances[:, 1:] == distances[:, :-1]).any(axis=1)
    if tied.any():
        nearest[tied] = np.argsort(squared[tied], axis=1, kind="stable")[:, :k]
    neighbour_responses = responses[candidates].T[:, nearest]  # [R, queries, k]
    return np.cumsum(neighbour_responses, axis=2)[:, :, -1].T / k


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

    def predict(leaf_range):
        for leaf in leaf_range:
            rows = leaves.members[leaf]
            predictions[rows] = nearest_in_cell(
                queries[rows], references, responses, np.sort(candidate_lists[leaf]), k
            )

    cores = os.cpu_count() or 1
    tasks = np.array_split(np.arange(len(leaves.members)), cores * TASKS_PER_CORE)
    with concurrent.futures.ThreadPoolExecutor(cores) as pool:
        list(pool.map(predict, tasks))
    return predictions
