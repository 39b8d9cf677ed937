"""The data layer: loading, demo datasets, tokenization, splits, model-ready arrays.

No torch, textual or rich here (the UI process imports this package); scikit-learn is
imported only inside the functions that split data.
"""

from tuirecipe.data.decoding import file_sha256
from tuirecipe.data.demo import demo_frame, ensure_demo_file
from tuirecipe.data.loading import LoadedTable, LoadReport, SkippedRow, load_table, read_columns
from tuirecipe.data.prepare import PreparedData, Split, prepare_data, resolve_data_path
from tuirecipe.data.splits import (
    overlap_from_codes,
    split_group_codes,
    split_overlap,
    stratified_kfold,
    stratified_split,
)
from tuirecipe.data.tokenize import PAD, PAD_ID, UNK, UNK_ID, Encoded, Vocab, encode_texts, tokenize

__all__ = [
    "PAD",
    "PAD_ID",
    "UNK",
    "UNK_ID",
    "Encoded",
    "LoadReport",
    "LoadedTable",
    "PreparedData",
    "SkippedRow",
    "Split",
    "Vocab",
    "demo_frame",
    "encode_texts",
    "ensure_demo_file",
    "file_sha256",
    "load_table",
    "overlap_from_codes",
    "prepare_data",
    "read_columns",
    "resolve_data_path",
    "split_group_codes",
    "split_overlap",
    "stratified_kfold",
    "stratified_split",
    "tokenize",
]
