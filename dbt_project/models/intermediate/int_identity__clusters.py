"""Clusters of accepted records that are one person: connected components of the identity graph.

Records and the identity keys two or more records share are the nodes. Each (record, shared key) row of
int_identity__match_keys is an edge, so joins are transitive: A shares an email with B, B a phone with C,
and A, B and C are one cluster. Each pair of int_identity__fuzzy_pairs (the fuzzy tier) and each must_link
pair of the seed identity_overrides is an edge between two records. DuckDB numbers the nodes (hash joins,
in parallel) and scipy finds the components.

A cannot_link pair of identity_overrides that ends up in one component splits it: the component is rebuilt
edge by edge, strongest first (must_link, email, phone, email_phone, email_name, phone_name, then fuzzy pairs
by score),
and an edge that would put a cannot_link pair together is left out. Only the components holding such a pair
are rebuilt, so the override costs nothing elsewhere.

cluster_id is a label for this run only; int_identity__customer_ids gives the stable id.
"""

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

KEY_STRENGTH = (
    "case key_type when 'email' then 1 when 'phone' then 2 when 'email_phone' then 3 when 'email_name' then 4"
    " else 5 end"
)
MUST_LINK = 0
FUZZY = 6


def _pairs(relation, numbered_records, extra):
    """(index_a, index_b, extra) of the pairs (record_key_a, record_key_b) whose ends are both accepted."""
    a = numbered_records.select("record_key as key_a, record_index as index_a")
    b = numbered_records.select("record_key as key_b, record_index as index_b")
    return (
        relation.join(a, "record_key_a = key_a")
        .join(b, "record_key_b = key_b")
        .select(f"index_a, index_b, {extra} as extra")
        .fetchnumpy()
    )


def _by_component(labels, records, components):
    """{component: the positions in records (record indexes) of those whose label is that component}."""
    row_labels = labels[np.asarray(records, dtype=np.int64)]
    positions = np.flatnonzero(np.isin(row_labels, components))
    positions = positions[np.argsort(row_labels[positions], kind="stable")]
    starts = np.searchsorted(row_labels[positions], components, side="left")
    ends = np.searchsorted(row_labels[positions], components, side="right")
    return {int(c): positions[a:b] for c, a, b in zip(components, starts, ends, strict=True)}


def _rebuild(members, record_edges, key_edges, cannot_links):
    """Constrained union-find over one component's edges, strongest first; returns root per member."""
    parent = {}

    def find(node):
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(node, node) != root:
            parent[node], node = root, parent[node]
        return root

    # Nodes are ("r", record index) and ("k", key index); each root knows the cannot_link ends it holds.
    endpoints = {}
    for a, b in cannot_links:
        endpoints.setdefault(("r", a), set()).add(("r", a))
        endpoints.setdefault(("r", b), set()).add(("r", b))
    forbidden = {(("r", a), ("r", b)) for a, b in cannot_links} | {
        (("r", b), ("r", a)) for a, b in cannot_links
    }

    def union(u, v):
        ru, rv = find(u), find(v)
        if ru == rv:
            return
        eu, ev = endpoints.get(ru, set()), endpoints.get(rv, set())
        if any((x, y) in forbidden for x in eu for y in ev):
            return
        parent[rv] = ru
        if ev:
            endpoints[ru] = eu | ev
            endpoints.pop(rv, None)

    edges = [(strength, -score, ("r", u), ("r", v)) for u, v, strength, score in record_edges]
    edges += [(strength, 0.0, ("r", u), ("k", k)) for u, k, strength in key_edges]
    for _, _, u, v in sorted(edges):
        union(u, v)
    return {member: find(("r", member)) for member in members}


def model(dbt, session):
    # Records are numbered in record_key order, so that a rebuild breaks ties between equal edges the same
    # way on every run, whatever order the rows come out of the warehouse in.
    records = dbt.ref("int_contacts__unioned").select("record_key").order("record_key").to_arrow_table()
    record_count = records.num_rows
    numbered_records = session.from_arrow(
        records.append_column("record_index", pa.array(np.arange(record_count, dtype=np.int64)))
    )

    match_keys = dbt.ref("int_identity__match_keys")
    # int_identity__match_keys lists only keys two or more records hold, so every key is a node. Key numbers
    # only need to agree within the one query below, so row_number() over () is enough.
    numbered_keys = match_keys.query(
        "match_keys",
        "select match_key, row_number() over () - 1 as key_index from match_keys group by match_key",
    )
    key_edges = (
        match_keys.join(numbered_records, "record_key")
        .join(numbered_keys, "match_key")
        .select(f"record_index, key_index, ({KEY_STRENGTH})::tinyint as strength")
        .fetchnumpy()
    )
    fuzzy = _pairs(dbt.ref("int_identity__fuzzy_pairs"), numbered_records, "score")
    overrides = dbt.ref("identity_overrides")
    must = _pairs(overrides.filter("decision = 'must_link'"), numbered_records, "0")
    cannot = _pairs(overrides.filter("decision = 'cannot_link'"), numbered_records, "0")

    # Record nodes are 0 .. record_count - 1, key nodes follow them.
    key_count = int(key_edges["key_index"].max()) + 1 if len(key_edges["key_index"]) else 0
    node_count = record_count + key_count
    rows = np.concatenate([key_edges["record_index"], fuzzy["index_a"], must["index_a"]])
    cols = np.concatenate([key_edges["key_index"] + record_count, fuzzy["index_b"], must["index_b"]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(node_count, node_count))
    _, labels = connected_components(graph, directed=False)
    labels = labels[:record_count].astype(np.int64)

    violated = {
        int(labels[a])
        for a, b in zip(cannot["index_a"], cannot["index_b"], strict=True)
        if labels[a] == labels[b]
    }
    if violated:
        # Each edge, member and cannot_link pair is given to its component in one pass over all of them, so
        # the cost grows with the edges, not with the edges times the components to rebuild.
        components = np.array(sorted(violated), dtype=np.int64)
        key_edge_parts = _by_component(labels, key_edges["record_index"], components)
        pair_parts = {
            strength: _by_component(labels, pairs["index_a"], components)
            for pairs, strength in ((must, MUST_LINK), (fuzzy, FUZZY))
        }
        cannot_parts = _by_component(labels, cannot["index_a"], components)
        member_parts = _by_component(labels, np.arange(record_count), components)
        next_label = int(labels.max()) + 1
        for component in components.tolist():
            members = set(member_parts[component].tolist())
            edges = key_edge_parts[component]
            key_part = zip(
                key_edges["record_index"][edges].tolist(),
                key_edges["key_index"][edges].tolist(),
                key_edges["strength"][edges].tolist(),
                strict=True,
            )
            record_part = [
                (int(pairs["index_a"][i]), int(pairs["index_b"][i]), strength, float(pairs["extra"][i]))
                for pairs, strength in ((must, MUST_LINK), (fuzzy, FUZZY))
                for i in pair_parts[strength][component].tolist()
            ]
            cannot_part = [
                (int(cannot["index_a"][i]), int(cannot["index_b"][i]))
                for i in cannot_parts[component].tolist()
            ]
            roots = _rebuild(members, record_part, list(key_part), cannot_part)
            # The part holding the component's first record keeps the label; the others get new ones.
            first_root = roots[min(members)]
            new_labels = {}
            for member in sorted(members):
                root = roots[member]
                if root != first_root and root not in new_labels:
                    new_labels[root] = next_label
                    next_label += 1
                labels[member] = component if root == first_root else new_labels[root]

    return pa.table({"record_key": records["record_key"], "cluster_id": pa.array(labels, type=pa.int64())})
