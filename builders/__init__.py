"""The RML-LAMA builder: sources → rephrasings → validation → queries → dataset folder.

Each step is a function that can be run on its own:
:mod:`builders.sources` reads mLAMA, ParaRel and mParaRel; :mod:`builders.bank` reads the
curated rephrasing bank; :mod:`builders.validate` holds the named validation rules;
:mod:`builders.queries` fills templates into queries; :mod:`builders.write` writes the
parquet files, the dataset card and the manifest; :mod:`builders.build` runs them in order.
"""
