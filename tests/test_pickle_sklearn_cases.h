/* sklearn cases (tests/gen_sklearn_fixtures.py): added as the importer supports them */
