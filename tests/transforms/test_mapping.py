import pytest
from pydantic import ValidationError

from transforms.mapping import SourceMapping, load_mapping


@pytest.mark.parametrize("name", ["cst", "gmp", "mps", "wyp"])
def test_builtin_mappings_load(name):
    mapping = load_mapping(f"builtin:{name}")
    assert mapping.id == name
    assert mapping.columns["ref"] in mapping.required_source_columns


def test_a_mapping_must_name_its_required_fields():
    with pytest.raises(ValidationError, match="required fields"):
        SourceMapping(id="xyz", kind="police", format="csv", columns={"ref": "REF"})


def test_a_mapping_rejects_fields_of_the_other_kind():
    with pytest.raises(ValidationError, match="do not belong"):
        SourceMapping(
            id="xyz",
            kind="police",
            format="csv",
            columns={"ref": "R", "offence_code": "O", "occurred_from": "F", "status": "S", "category": "C"},
        )


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="unknown canonical fields"):
        SourceMapping(id="x", kind="cst", format="csv", columns={"colour": "C"})
