"""Wire formats of C-V2X messages: UPER (T/CSAE 53-2017, 53-2020/YD/T 3709, 157-2020 Day-2)
and lossless CSAE JSON, to and from the SI domain model.

May import: ``model``, ``errors``. Schemas and anything generated from them stay inside.
"""

__all__: list[str] = []
