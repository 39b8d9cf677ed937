# Types of the optional compiled module built from _textscan.c (see that file). The
# buffers are anything with the buffer protocol (numpy arrays, pyarrow buffers, bytes).
from typing import Any

def split_encode(
    offsets: Any, width: int, data: Any, /
) -> tuple[bytearray, bytearray, bytearray, bytearray]: ...
def group_spans(offsets: Any, width: int, data: Any, codes: Any, /) -> int: ...
