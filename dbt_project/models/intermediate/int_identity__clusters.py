"""Clusters of accepted records that are one person: connected components of the record-key graph.

Records and identity keys are the nodes and each (record, key) row of int_identity__match_keys an
edge, so joins are transitive: A shares an email with B, B a phone with C, and A, B and C are one
cluster. DuckDB numbers the nodes (hash joins, in parallel) and scipy finds the components.
cluster_id is a label for this run only; int_identity__customer_ids gives the stable id.
"""

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def model(dbt, session):
    records = dbt.ref("int_contacts__unioned").select("record_key").to_arrow_table()
    record_count = records.num_rows
    numbered_records = session.from_arrow(
        records.append_column("record_index", pa.array(np.arange(record_count, dtype=np.int64)))
    )

    match_keys = dbt.ref("int_identity__match_keys")
    # Key numbers only need to agree within the one query below, so row_number() over () is enough.
    numbered_keys = (
        match_keys.select("match_key").distinct().select("match_key, row_number() over () - 1 as key_index")
    )
    edges = (
        match_keys.join(numbered_records, "record_key")
        .join(numbered_keys, "match_key")
        .select("record_index, key_index")
        .fetchnumpy()
    )

    # Record nodes are 0 .. record_count - 1, key nodes follow them.
    key_count = int(edges["key_index"].max()) + 1 if len(edges["key_index"]) else 0
    node_count = record_count + key_count
    graph = coo_matrix(
        (
            np.ones(len(edges["record_index"]), dtype=np.int8),
            (edges["record_index"], edges["key_index"] + record_count),
        ),
        shape=(node_count, node_count),
    )
    _, labels = connected_components(graph, directed=False)

    return pa.table(
        {
            "record_key": records["record_key"],
            "cluster_id": pa.array(labels[:record_count], type=pa.int64()),
        }
    )
