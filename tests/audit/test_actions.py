"""Every action the code records is declared in ``audit.actions`` (record refuses the others at run time;
this finds them before that)."""

from __future__ import annotations

import ast
from pathlib import Path

import healthgate
from healthgate.audit.actions import ACTIONS

SRC = Path(healthgate.__file__).parent


def _recorded() -> list[tuple[str, str]]:
    """(where, action) for every literal action passed to ``record``/``record_new_many`` in the package."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("record", "record_new_many") and len(node.args) >= 2):
                continue
            if isinstance(node.args[1], ast.JoinedStr):
                continue  # an f-string (application.<event>): its own test declares every value it takes
            for arg in ast.walk(node.args[1]):  # the action, or both branches of a conditional
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((f"{path.relative_to(SRC)}:{node.lineno}", arg.value))
    return found


def test_every_recorded_action_is_declared():
    recorded = _recorded()
    assert len(recorded) >= 10  # the scan finds the calls (catalogue, identity, ...)
    assert [(where, a) for where, a in recorded if a not in ACTIONS] == []


def test_declared_actions_are_noun_dot_verb_with_a_description():
    for action, description in ACTIONS.items():
        noun, dot, verb = action.partition(".")
        assert dot and noun and verb and action == action.lower() and description, action
