"""The one compiled part: an optional C module for the profile's word index
(tuirecipe/data/profile/_textscan.c). Everything else is in pyproject.toml. Without a C
compiler the build skips it and the profile uses its pure pyarrow path (same results)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tuirecipe.data.profile._textscan",
            ["tuirecipe/data/profile/_textscan.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
