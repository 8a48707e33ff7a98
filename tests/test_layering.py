"""The package's one-way dependencies: models -> distillation -> structures; structures imports
no AllenNLP (DESIGN section 2)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "allennlp_subkd"


def imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("layer,forbidden", [
    ("structures", ("allennlp", "allennlp_models", "allennlp_subkd.distillation", "allennlp_subkd.models")),
    ("distillation", ("allennlp_subkd.models",)),
])
def test_a_layer_never_imports_the_layers_above_it(layer, forbidden):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files
    wrong = [(f.relative_to(PACKAGE).as_posix(), name) for f in files for name in imports(f)
             if any(name == bad or name.startswith(bad + ".") for bad in forbidden)]
    assert not wrong, f"imports against the layering: {wrong}"
