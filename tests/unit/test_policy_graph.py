"""The Policy Requirement Graph (docs/kernel-spec.md section 3): truth tables, validation, hashes,
mutations.

Expected hashes are computed here from the spec's content strings, with each predicate's JCS written
out by hand, never by asking the module under test how it hashes.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helmmodel.errors import InvalidInput
from helmmodel.kernel.policy_graph import (
    Outcome,
    PolicyGraph,
    Requirement,
    RequirementSet,
    build_set,
    evaluate_predicate,
)

T = Outcome.TRUE
F = Outcome.FALSE
E = Outcome.ERROR

# An evaluation input of spec section 3: {"principal", "tool", "args", "context"}.
DOC: dict[str, Any] = {
    "principal": "alice",
    "tool": "echo",
    "args": {
        "n": 5,
        "s": "5",
        "flag": True,
        "one": 1,
        "nothing": None,
        "items": [1, 2],
        "obj": {"a": 1, "b": [True, None]},
        "a": {"b": {"c": 7}},
    },
    "context": {"session_id": "s1"},
}

BAD_IDENTIFIERS = ["has space", "x" * 65, "", 7, None, b"abc", "tab\t", "slash/", "ünï"]


def sha(text: str) -> str:
    """Bare hex SHA-256 of *text* encoded as UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


def const_set(
    set_id: str, logic: str, *values: bool, children: tuple[RequirementSet, ...] = ()
) -> RequirementSet:
    """A set of constant leaves named ``<set_id>.0``, ``<set_id>.1``, ..."""
    leaves = tuple(Requirement(f"{set_id}.{i}", ["const", v]) for i, v in enumerate(values))
    return RequirementSet(set_id, logic, leaves, children)


ERROR_LEAF = Requirement("boom", ["eq", "args.missing", 1])
TRUE_LEAF = Requirement("yes", ["const", True])
FALSE_LEAF = Requirement("no", ["const", False])


# --- predicates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        (["const", True], T),
        (["const", False], F),
        # has: present or missing, never an error.
        (["has", "args.n"], T),
        (["has", "args.nothing"], T),
        (["has", "args.missing"], F),
        (["has", "nowhere.at.all"], F),
        (["has", "principal"], T),
        # eq: JSON equality; a missing path is an error, a wrong type merely unequal.
        (["eq", "args.n", 5], T),
        (["eq", "args.n", 6], F),
        (["eq", "args.missing", 5], E),
        (["eq", "args.n", "5"], F),
        (["eq", "args.s", 5], F),
        (["eq", "args.flag", 1], F),
        (["eq", "args.one", True], F),
        (["eq", "args.flag", True], T),
        (["eq", "args.nothing", None], T),
        (["eq", "args.nothing", False], F),
        (["eq", "args.items", [1, 2]], T),
        (["eq", "args.items", [2, 1]], F),
        (["eq", "args.obj", {"b": [True, None], "a": 1}], T),
        (["eq", "args.obj", {"a": True, "b": [True, None]}], F),
        (["eq", "args.obj", {"a": 1, "b": [1, None]}], F),
        (["eq", "args.obj", {"a": 1}], F),
        (["eq", "principal", "alice"], T),
        (["eq", "context.session_id", "s1"], T),
        # in: membership under JSON equality; a missing path is an error.
        (["in", "args.n", [4, 5, 6]], T),
        (["in", "args.n", [4, 6]], F),
        (["in", "args.n", []], F),
        (["in", "args.missing", [5]], E),
        (["in", "args.missing", []], E),
        (["in", "args.flag", [1]], F),
        (["in", "args.one", [True]], F),
        (["in", "args.s", [5, "5"]], T),
        (["in", "args.items", [[1, 2]]], T),
        # le: integers only; a bool is not an integer.
        (["le", "args.n", 6], T),
        (["le", "args.n", 5], T),
        (["le", "args.n", 4], F),
        (["le", "args.n", -5], F),
        (["le", "args.missing", 5], E),
        (["le", "args.s", 9], E),
        (["le", "args.flag", 9], E),
        (["le", "args.items", 9], E),
        (["le", "args.nothing", 9], E),
        (["le", "args.obj", 9], E),
        # Nested dotted paths.
        (["has", "args.a.b.c"], T),
        (["eq", "args.a.b.c", 7], T),
        (["le", "args.a.b.c", 6], F),
        (["eq", "args.a.b", {"c": 7}], T),
        # A path through a non-object (int, string, list, null) is missing.
        (["has", "args.n.x"], F),
        (["has", "args.s.x"], F),
        (["has", "args.items.0"], F),
        (["has", "args.nothing.x"], F),
        (["eq", "args.n.x", 5], E),
        (["in", "args.s.x", ["5"]], E),
        (["le", "args.a.b.c.d", 9], E),
    ],
)
def test_predicate_truth_table(predicate: list[Any], expected: Outcome) -> None:
    """Each predicate gives the outcome of the spec's truth table on the sample input."""
    assert expected == evaluate_predicate(Requirement("r", predicate).predicate, DOC)


@pytest.mark.parametrize("value", [None, 0, "", [], {}, True, False, 2**53 - 1])
def test_has_is_true_for_any_present_value(value: Any) -> None:
    """``has`` is true for a present member whatever its value, falsy ones included."""
    assert T == evaluate_predicate(["has", "args.v"], {"args": {"v": value}})


@pytest.mark.parametrize("value", ["7", True, False, None, [7], {"v": 7}])
def test_le_on_a_non_integer_is_an_error(value: Any) -> None:
    """``le`` on a value that is not an integer (a bool included) is an error, not false."""
    assert E == evaluate_predicate(["le", "args.v", 9], {"args": {"v": value}})


def test_requirement_evaluates_like_its_predicate() -> None:
    """A requirement leaf in a set evaluates exactly as its predicate does."""
    for predicate, expected in [
        (["le", "args.n", 5], T),
        (["le", "args.n", 4], F),
        (["le", "args.s", 4], E),
    ]:
        requirement_set = RequirementSet("root", "AND", (Requirement("r", predicate),))
        assert expected == requirement_set.evaluate(DOC)[0]


# --- sets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logic", "values", "expected"),
    [
        ("AND", (True, True), T),
        ("AND", (True, False), F),
        ("AND", (False, True), F),
        ("AND", (False, False), F),
        ("AND", (True,), T),
        ("AND", (False,), F),
        ("", (True, True), T),
        ("", (True, False), F),
        ("", (False, False), F),
        ("", (True,), T),
        ("OR", (True, True), T),
        ("OR", (True, False), T),
        ("OR", (False, True), T),
        ("OR", (False, False), F),
        ("OR", (False,), F),
        # NOT is "not all true": a NAND.
        ("NOT", (True, True), F),
        ("NOT", (True, False), T),
        ("NOT", (False, True), T),
        ("NOT", (False, False), T),
        ("NOT", (True,), F),
        ("NOT", (False,), T),
    ],
)
def test_set_logic_truth_table(logic: str, values: tuple[bool, ...], expected: Outcome) -> None:
    """AND, OR, NOT (a NAND) and "" (= AND) combine constant leaves as the spec's table says."""
    assert expected == const_set("root", logic, *values).evaluate(DOC)[0]


@pytest.mark.parametrize("logic", ["AND", "OR", "NOT", "", "XOR"])
def test_empty_set_is_true_whatever_its_logic(logic: str) -> None:
    """A set with no leaves and no children is true, even with an unknown logic."""
    assert (T, []) == RequirementSet("root", logic).evaluate(DOC)


@pytest.mark.parametrize("values", [(True,), (False,), (True, False)])
def test_non_empty_set_with_unknown_logic_is_an_error(values: tuple[bool, ...]) -> None:
    """A non-empty set whose logic is unknown evaluates to an error."""
    assert E == const_set("root", "XOR", *values).evaluate(DOC)[0]


def test_set_with_unknown_logic_and_only_children_is_an_error() -> None:
    """A set with an unknown logic and only child sets is an error, not true."""
    requirement_set = RequirementSet("root", "XOR", (), (const_set("kid", "AND", True),))
    assert E == requirement_set.evaluate(DOC)[0]


@pytest.mark.parametrize("logic", ["AND", "OR", "NOT", ""])
@pytest.mark.parametrize(
    "leaves",
    [
        (ERROR_LEAF,),
        (TRUE_LEAF, ERROR_LEAF),
        (ERROR_LEAF, TRUE_LEAF),
        (FALSE_LEAF, ERROR_LEAF),
        (ERROR_LEAF, FALSE_LEAF),
    ],
)
def test_error_in_a_leaf_makes_the_set_an_error(
    logic: str, leaves: tuple[Requirement, ...]
) -> None:
    """An erroring leaf makes the whole set an error, even under OR beside a true leaf."""
    assert E == RequirementSet("root", logic, leaves).evaluate(DOC)[0]


@pytest.mark.parametrize("logic", ["AND", "OR", "NOT", ""])
def test_error_in_a_child_makes_the_whole_tree_an_error(logic: str) -> None:
    """An error deep in a child set makes the root an error, whatever the root's logic."""
    grandchild = RequirementSet("grandchild", "OR", (TRUE_LEAF, ERROR_LEAF))
    child = RequirementSet("child", "AND", (), (grandchild,))
    root = RequirementSet("root", logic, (TRUE_LEAF, FALSE_LEAF), (child,))
    assert E == root.evaluate(DOC)[0]


def test_error_in_a_child_with_unknown_logic_propagates() -> None:
    """A non-empty child with an unknown logic makes an OR root an error despite a true leaf."""
    root = RequirementSet("root", "OR", (TRUE_LEAF,), (const_set("kid", "XOR", True),))
    assert E == root.evaluate(DOC)[0]


def test_error_is_distinct_from_false() -> None:
    """NOT over an erroring leaf is an error, not the true that NOT over a false leaf gives."""
    assert T == RequirementSet("root", "NOT", (FALSE_LEAF,)).evaluate(DOC)[0]
    assert E == RequirementSet("root", "NOT", (ERROR_LEAF,)).evaluate(DOC)[0]


@pytest.mark.parametrize(
    ("logic", "child_values", "expected"),
    [
        ("AND", ((True,), (True,)), T),
        ("AND", ((True,), (False,)), F),
        ("OR", ((False,), (True,)), T),
        ("OR", ((False,), (False,)), F),
        ("NOT", ((True,), (True,)), F),
        ("NOT", ((True,), (False,)), T),
        ("NOT", ((False,), (False,)), T),
        ("", ((True,), (False,)), F),
    ],
)
def test_children_combine_like_leaves(
    logic: str, child_values: tuple[tuple[bool, ...], ...], expected: Outcome
) -> None:
    """Child sets take part in their parent's logic exactly as leaves do."""
    children = tuple(const_set(f"c{i}", "AND", *v) for i, v in enumerate(child_values))
    assert expected == RequirementSet("root", logic, (), children).evaluate(DOC)[0]


def test_empty_child_counts_as_true() -> None:
    """An empty child set counts as a true operand of its parent."""
    empty = RequirementSet("empty", "OR")
    assert T == RequirementSet("root", "AND", (TRUE_LEAF,), (empty,)).evaluate(DOC)[0]
    assert F == RequirementSet("root", "NOT", (TRUE_LEAF,), (empty,)).evaluate(DOC)[0]


def test_leaves_and_children_combine_together() -> None:
    """A set's logic runs over its leaves and its children together."""
    false_child = const_set("kid", "AND", False)
    true_child = const_set("kid", "AND", True)
    assert F == RequirementSet("root", "AND", (TRUE_LEAF,), (false_child,)).evaluate(DOC)[0]
    assert T == RequirementSet("root", "OR", (FALSE_LEAF,), (true_child,)).evaluate(DOC)[0]
    assert T == RequirementSet("root", "NOT", (TRUE_LEAF,), (false_child,)).evaluate(DOC)[0]


def test_true_result_names_no_blockers() -> None:
    """A true evaluation names no blocking requirements."""
    assert (T, []) == const_set("root", "AND", True, True).evaluate(DOC)


def test_false_and_names_the_false_leaves() -> None:
    """A false AND names the false requirement ids as blocking, not the true ones."""
    root = RequirementSet(
        "root",
        "AND",
        (Requirement("ok", ["eq", "args.n", 5]), Requirement("small", ["le", "args.n", 3])),
    )
    assert (F, ["small"]) == root.evaluate(DOC)


def test_false_and_names_requirements_inside_a_false_child() -> None:
    """A false AND whose false operand is a child set names the child's requirement ids."""
    child = RequirementSet("kid", "AND", (Requirement("deep", ["eq", "args.n", 6]),))
    root = RequirementSet("root", "AND", (TRUE_LEAF,), (child,))
    assert (F, ["deep"]) == root.evaluate(DOC)


def test_false_or_names_every_requirement() -> None:
    """A false OR names each of its (all false) requirement ids."""
    root = RequirementSet(
        "root",
        "OR",
        (Requirement("big", ["le", "args.n", 1]), Requirement("who", ["eq", "principal", "bob"])),
    )
    outcome, ids = root.evaluate(DOC)
    assert F == outcome
    assert ["big", "who"] == sorted(ids)


def test_false_not_names_the_true_leaves() -> None:
    """A false NOT names the (all true) requirement ids that block it."""
    root = RequirementSet("root", "NOT", (Requirement("a", ["const", True]), TRUE_LEAF))
    outcome, ids = root.evaluate(DOC)
    assert F == outcome
    assert ["a", "yes"] == sorted(ids)


def test_false_not_over_a_true_child_names_the_child_requirements() -> None:
    """A NOT made false by a true child set names that child's requirement ids as blocking."""
    child = RequirementSet("kid", "AND", (Requirement("inner", ["eq", "args.n", 5]),))
    root = RequirementSet("root", "NOT", (), (child,))
    assert (F, ["inner"]) == root.evaluate(DOC)


def test_blocking_ids_never_contain_predicates() -> None:
    """Blocking ids of a false evaluation are requirement ids, never predicate text."""
    root = RequirementSet(
        "root",
        "AND",
        (Requirement("limit", ["le", "args.n", 1]), Requirement("who", ["eq", "principal", "x"])),
        (RequirementSet("kid", "OR", (Requirement("k", ["in", "args.n", [9]]),)),),
    )
    outcome, ids = root.evaluate(DOC)
    assert F == outcome
    assert ["k", "limit", "who"] == sorted(ids)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "predicate",
    [
        None,
        "const",
        {"op": "const"},
        ("const", True),
        [],
        ["xor", True],
        ["CONST", True],
        [True],
        ["const"],
        ["const", True, False],
        ["const", 1],
        ["const", "true"],
        ["const", None],
        ["has"],
        ["has", "args.x", 1],
        ["eq", "args.x"],
        ["eq", "args.x", 1, 2],
        ["in", "args.x"],
        ["in", "args.x", 1],
        ["in", "args.x", "abc"],
        ["in", "args.x", {"a": 1}],
        ["le", "args.x"],
        ["le", "args.x", 1.0],
        ["le", "args.x", 1.5],
        ["le", "args.x", True],
        ["le", "args.x", "5"],
        ["le", "args.x", None],
        ["le", "args.x", 2**53],
        ["has", ""],
        ["has", "."],
        ["has", "args."],
        ["has", ".args"],
        ["has", "args..x"],
        ["has", 5],
        ["has", None],
        ["has", ["args", "x"]],
        ["eq", "", 1],
        ["eq", "args..x", 1],
        ["in", "", [1]],
        ["le", "", 1],
        ["eq", "args.x", 1.5],
        ["eq", "args.x", {"a": 0.5}],
        ["eq", "args.x", 2**53],
        ["eq", "args.x", -(2**53)],
        ["in", "args.x", [1, 2.5]],
        ["in", "args.x", [2**60]],
    ],
)
def test_bad_predicate_is_refused(predicate: Any) -> None:
    """A predicate outside the five forms, or with a float or unsafe operand, is InvalidInput."""
    with pytest.raises(InvalidInput):
        Requirement("r", predicate)


@pytest.mark.parametrize(
    "predicate",
    [
        ["const", False],
        ["has", "a"],
        ["eq", "args.x", None],
        ["eq", "args.x", {"k": [1, "s", None, True]}],
        ["in", "args.x", []],
        ["le", "args.x", -(2**53 - 1)],
        ["le", "args.x", 2**53 - 1],
    ],
)
def test_good_predicate_is_accepted(predicate: list[Any]) -> None:
    """Each of the five predicate forms with in-subset operands is accepted unchanged."""
    assert predicate == Requirement("r", predicate).predicate


@pytest.mark.parametrize("bad_id", BAD_IDENTIFIERS)
def test_bad_requirement_id_is_refused(bad_id: Any) -> None:
    """A requirement id outside ``[A-Za-z0-9_.-]{1,64}`` is InvalidInput."""
    with pytest.raises(InvalidInput):
        Requirement(bad_id, ["const", True])


@pytest.mark.parametrize("bad_id", BAD_IDENTIFIERS)
def test_bad_set_id_is_refused(bad_id: Any) -> None:
    """A requirement set id outside ``[A-Za-z0-9_.-]{1,64}`` is InvalidInput."""
    with pytest.raises(InvalidInput):
        RequirementSet(bad_id, "AND")


def test_longest_identifiers_are_accepted() -> None:
    """Identifiers of exactly 64 characters from the whole alphabet are accepted."""
    long_id = ("Az09_.-" * 10)[:64]
    requirement_set = RequirementSet(long_id, "AND", (Requirement(long_id, ["const", True]),))
    graph = PolicyGraph()
    graph.put_rule(long_id, requirement_set)
    assert [long_id] == graph.tools()


def test_duplicate_leaf_ids_are_refused() -> None:
    """A set holding two leaves with the same id is InvalidInput."""
    with pytest.raises(InvalidInput):
        RequirementSet("root", "AND", (TRUE_LEAF, Requirement("yes", ["const", False])))


def test_build_set_refuses_bad_shapes() -> None:
    """build_set refuses unknown members, bad leaves, bad ids and a non-string logic."""
    for spec in [
        "root",
        {"id": "root", "extra": 1},
        {"id": "root", "leaves": {}},
        {"id": "root", "children": "kid"},
        {"id": "root", "leaves": [{"id": "a"}]},
        {"id": "root", "leaves": [{"id": "a", "predicate": ["const", True], "x": 1}]},
        {"id": "root", "leaves": [{"id": "a b", "predicate": ["const", True]}]},
        {"id": "root", "leaves": [{"id": "a", "predicate": ["le", "args.x", 1.5]}]},
        {"id": "root", "logic": 1},
        {"id": "root bad"},
        {"logic": "AND"},
        {"id": "root", "children": [{"id": ""}]},
    ]:
        with pytest.raises(InvalidInput):
            build_set(spec)


def sample_tree() -> RequirementSet:
    """A small two-level tree used by the mutation tests."""
    kid = RequirementSet("kid", "OR", (Requirement("k1", ["le", "args.n", 9]),))
    return RequirementSet("root", "AND", (Requirement("r1", ["has", "args.n"]),), (kid,))


def graph_with_rule() -> PolicyGraph:
    """A graph with the sample tree as the rule of ``echo`` (epoch 1)."""
    graph = PolicyGraph()
    graph.put_rule("echo", sample_tree())
    return graph


REFUSED_MUTATIONS: list[tuple[str, Callable[[PolicyGraph], None]]] = [
    *[
        (f"put_rule bad tool {bad!r}", lambda g, bad=bad: g.put_rule(bad, sample_tree()))
        for bad in BAD_IDENTIFIERS
    ],
    (
        "put_rule duplicate set id parent/child",
        lambda g: g.put_rule("echo", RequirementSet("x", "AND", (), (RequirementSet("x"),))),
    ),
    (
        "put_rule duplicate set id siblings",
        lambda g: g.put_rule(
            "other", RequirementSet("root", "OR", (), (RequirementSet("x"), RequirementSet("x")))
        ),
    ),
    ("remove_rule unknown tool", lambda g: g.remove_rule("sum")),
    ("remove_rule bad tool", lambda g: g.remove_rule("no such tool")),
    ("add_leaf unknown tool", lambda g: g.add_leaf("sum", "root", TRUE_LEAF)),
    ("add_leaf unknown set", lambda g: g.add_leaf("echo", "nope", TRUE_LEAF)),
    (
        "add_leaf duplicate leaf id",
        lambda g: g.add_leaf("echo", "kid", Requirement("k1", ["has", "a"])),
    ),
    ("remove_leaf unknown tool", lambda g: g.remove_leaf("sum", "root", "r1")),
    ("remove_leaf unknown set", lambda g: g.remove_leaf("echo", "nope", "r1")),
    ("remove_leaf unknown leaf", lambda g: g.remove_leaf("echo", "root", "nope")),
    ("remove_leaf leaf of another set", lambda g: g.remove_leaf("echo", "root", "k1")),
]


@pytest.mark.parametrize(
    "mutation", [m for _, m in REFUSED_MUTATIONS], ids=[name for name, _ in REFUSED_MUTATIONS]
)
def test_refused_mutation_changes_nothing(mutation: Callable[[PolicyGraph], None]) -> None:
    """An invalid mutation raises InvalidInput and leaves rules, epoch and version unchanged."""
    graph = graph_with_rule()
    before = graph.snapshot()
    with pytest.raises(InvalidInput):
        mutation(graph)
    assert before.epoch == graph.epoch
    assert before.version == graph.version
    assert dict(before.rules) == dict(graph.snapshot().rules)
    assert graph.snapshot().rules.get("echo") is before.rules["echo"]


def test_put_rule_refuses_a_tree_deeper_than_its_bound() -> None:
    """A rule nested deeper than 16 sets is refused and the graph is unchanged."""
    tree = RequirementSet("s0")
    for depth in range(1, 17):
        tree = RequirementSet(f"s{depth}", "AND", (), (tree,))
    graph = PolicyGraph()
    with pytest.raises(InvalidInput):
        graph.put_rule("echo", tree)
    assert (0, []) == (graph.epoch, graph.tools())


def test_add_leaf_refuses_a_65th_leaf() -> None:
    """Adding a leaf to a set that holds 64 already is refused and the graph is unchanged."""
    full = RequirementSet(
        "root", "AND", tuple(Requirement(f"r{i}", ["const", True]) for i in range(64))
    )
    graph = PolicyGraph()
    graph.put_rule("echo", full)
    before = graph.snapshot()
    with pytest.raises(InvalidInput):
        graph.add_leaf("echo", "root", Requirement("r64", ["const", True]))
    assert (before.epoch, before.version) == (graph.epoch, graph.version)
    assert full is graph.snapshot().rules.get("echo")


# --- hashes ---------------------------------------------------------------------------------


def test_set_hash_follows_the_content_string() -> None:
    """A set's hash is sha256: of its spec content string, with child hashes nested in it."""
    kid = RequirementSet(
        "kid",
        "",
        (
            Requirement("c", ["le", "args.n", 5]),
            Requirement("d", ["in", "args.s", ["x", "é"]]),
        ),
    )
    root = RequirementSet(
        "root",
        "OR",
        (
            Requirement("a", ["const", True]),
            Requirement("b", ["eq", "args.o", {"z": None, "a": [1, False]}]),
        ),
        (kid, RequirementSet("empty", "NOT")),
    )
    kid_hash = "sha256:" + sha(
        'id=kid:logic=:req=c:["le","args.n",5];req=d:["in","args.s",["x","é"]];'
    )
    empty_hash = "sha256:" + sha("id=empty:logic=NOT:")
    root_hash = "sha256:" + sha(
        'id=root:logic=OR:req=a:["const",true];'
        'req=b:["eq","args.o",{"a":[1,false],"z":null}];'
        f"child={kid_hash};child={empty_hash};"
    )
    assert kid_hash == kid.hash
    assert empty_hash == root.children[1].hash
    assert root_hash == root.hash


def test_empty_graph_hash_is_sha256_of_nothing() -> None:
    """The empty graph's policy_version is sha256: + SHA-256 of the empty string."""
    graph = PolicyGraph()
    assert 0 == graph.epoch
    assert "sha256:" + hashlib.sha256(b"").hexdigest() == graph.version
    assert graph.version == graph.snapshot().version


def test_graph_hash_covers_sorted_tool_names() -> None:
    """The graph's content hash runs over ``<tool>=<set hash>;`` in sorted tool order."""
    zeta = const_set("zroot", "OR", True)
    alpha = const_set("aroot", "AND", False)
    graph = PolicyGraph()
    graph.put_rule("zeta", zeta)
    graph.put_rule("alpha", alpha)
    graph.put_rule("Mid", alpha)
    expected = sha(f"Mid={alpha.hash};alpha={alpha.hash};zeta={zeta.hash};")
    assert "sha256:" + expected == graph.version


def test_graph_version_is_independent_of_insertion_order() -> None:
    """Two graphs with the same rules put in different orders have the same version."""
    one, two = PolicyGraph(), PolicyGraph()
    one.put_rule("a", const_set("ra", "AND", True))
    one.put_rule("b", const_set("rb", "OR", False))
    two.put_rule("b", const_set("rb", "OR", False))
    two.put_rule("a", const_set("ra", "AND", True))
    assert one.version == two.version


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (["const", True], ["const", False]),
        (["le", "args.n", 5], ["le", "args.n", 6]),
        (["le", "args.n", 5], ["le", "args.m", 5]),
        (["eq", "args.n", 1], ["eq", "args.n", "1"]),
        (["eq", "args.n", 1], ["eq", "args.n", True]),
        (["eq", "args.n", None], ["has", "args.n"]),
        (["in", "args.n", [1, 2]], ["in", "args.n", [2, 1]]),
        (["eq", "args.n", [1]], ["in", "args.n", [1]]),
    ],
)
def test_different_predicates_give_different_hashes(left: list[Any], right: list[Any]) -> None:
    """Two sets that differ only in one leaf's predicate hash differently."""
    one = RequirementSet("root", "AND", (Requirement("r", left),))
    two = RequirementSet("root", "AND", (Requirement("r", right),))
    assert one.hash != two.hash


def test_ids_and_logic_are_part_of_the_hash() -> None:
    """Changing a set id, a requirement id or the logic changes the set hash."""
    base = RequirementSet("root", "AND", (TRUE_LEAF,))
    variants = [
        RequirementSet("root2", "AND", (TRUE_LEAF,)),
        RequirementSet("root", "OR", (TRUE_LEAF,)),
        RequirementSet("root", "", (TRUE_LEAF,)),
        RequirementSet("root", "AND", (Requirement("yes2", ["const", True]),)),
        RequirementSet("root", "AND", (), (RequirementSet("yes"),)),
    ]
    assert len(variants) + 1 == len({base.hash, *(v.hash for v in variants)})


def test_equal_content_gives_equal_hash() -> None:
    """Two separately built sets with the same content have the same hash."""
    assert sample_tree().hash == sample_tree().hash
    assert sample_tree() == sample_tree()


def test_hash_has_the_prefixed_form() -> None:
    """A set hash is ``sha256:`` followed by 64 lowercase hex digits."""
    digest = sample_tree().hash
    assert "sha256:" == digest[:7]
    assert 64 == len(digest[7:])
    assert set(digest[7:]) <= set("0123456789abcdef")


# --- mutations ------------------------------------------------------------------------------


def version_of(rules: dict[str, RequirementSet]) -> str:
    """The policy_version of a graph holding *rules*, computed from the spec's formula."""
    text = "".join(f"{tool}={rules[tool].hash};" for tool in sorted(rules))
    return "sha256:" + sha(text)


def test_put_rule_adds_and_bumps_epoch() -> None:
    """Putting a new rule bumps the epoch by one and sets the version of the new graph."""
    graph = PolicyGraph()
    tree = sample_tree()
    graph.put_rule("echo", tree)
    assert 1 == graph.epoch
    assert version_of({"echo": tree}) == graph.version
    assert tree is graph.snapshot().rules.get("echo")
    assert ["echo"] == graph.tools()


def test_put_rule_replaces_and_bumps_epoch() -> None:
    """Replacing a rule bumps the epoch by one and gives the version of the replaced graph."""
    graph = graph_with_rule()
    other = const_set("other", "OR", False)
    graph.put_rule("echo", other)
    assert 2 == graph.epoch
    assert version_of({"echo": other}) == graph.version
    assert other is graph.snapshot().rules.get("echo")


def test_put_identical_rule_bumps_epoch_but_keeps_version() -> None:
    """Re-putting the same rule is an accepted mutation: epoch + 1, version unchanged."""
    graph = graph_with_rule()
    version = graph.version
    graph.put_rule("echo", sample_tree())
    assert 2 == graph.epoch
    assert version == graph.version


def test_remove_rule_bumps_epoch() -> None:
    """Removing a rule bumps the epoch by one and restores the version of the smaller graph."""
    graph = graph_with_rule()
    graph.put_rule("sum", const_set("s", "AND", True))
    graph.remove_rule("echo")
    assert 3 == graph.epoch
    assert version_of({"sum": const_set("s", "AND", True)}) == graph.version
    assert graph.snapshot().rules.get("echo") is None
    graph.remove_rule("sum")
    assert 4 == graph.epoch
    assert "sha256:" + sha("") == graph.version


def test_add_and_remove_leaf_in_the_root() -> None:
    """Adding then removing a root leaf each bump the epoch by one; the version round-trips."""
    graph = graph_with_rule()
    version = graph.version
    new_leaf = Requirement("r2", ["eq", "principal", "alice"])
    graph.add_leaf("echo", "root", new_leaf)
    expected_tree = RequirementSet(
        "root", "AND", (*sample_tree().leaves, new_leaf), sample_tree().children
    )
    assert 2 == graph.epoch
    assert version_of({"echo": expected_tree}) == graph.version
    assert expected_tree == graph.snapshot().rules.get("echo")
    graph.remove_leaf("echo", "root", "r2")
    assert 3 == graph.epoch
    assert version == graph.version


def test_add_and_remove_leaf_in_a_nested_child() -> None:
    """Leaf mutations in a nested child bump the epoch by one and rehash every ancestor."""
    grandkid = RequirementSet("grandkid", "AND", (Requirement("g1", ["const", True]),))
    kid = RequirementSet("kid", "OR", (), (grandkid,))
    root = RequirementSet("root", "AND", (TRUE_LEAF,), (kid,))
    graph = PolicyGraph()
    graph.put_rule("echo", root)
    version = graph.version
    new_leaf = Requirement("g2", ["const", False])
    graph.add_leaf("echo", "grandkid", new_leaf)
    expected = RequirementSet(
        "root",
        "AND",
        (TRUE_LEAF,),
        (
            RequirementSet(
                "kid",
                "OR",
                (),
                (RequirementSet("grandkid", "AND", (grandkid.leaves[0], new_leaf)),),
            ),
        ),
    )
    assert 2 == graph.epoch
    assert expected.hash == graph.snapshot().rules.get("echo").hash
    assert version_of({"echo": expected}) == graph.version
    assert F == graph.snapshot().rules.get("echo").evaluate(DOC)[0]
    graph.remove_leaf("echo", "grandkid", "g1")
    graph.remove_leaf("echo", "grandkid", "g2")
    assert 4 == graph.epoch
    emptied = RequirementSet(
        "root",
        "AND",
        (TRUE_LEAF,),
        (RequirementSet("kid", "OR", (), (RequirementSet("grandkid", "AND"),)),),
    )
    assert version_of({"echo": emptied}) == graph.version
    assert version != graph.version


def test_every_accepted_mutation_bumps_epoch_by_one() -> None:
    """A run of accepted mutations bumps the epoch by exactly one each."""
    graph = PolicyGraph()
    steps: list[Callable[[], None]] = [
        lambda: graph.put_rule("echo", sample_tree()),
        lambda: graph.put_rule("sum", const_set("s", "", True)),
        lambda: graph.add_leaf("echo", "kid", Requirement("k2", ["has", "args.x"])),
        lambda: graph.add_leaf("sum", "s", Requirement("s9", ["const", False])),
        lambda: graph.remove_leaf("echo", "kid", "k1"),
        lambda: graph.put_rule("echo", sample_tree()),
        lambda: graph.remove_rule("sum"),
        lambda: graph.remove_leaf("echo", "root", "r1"),
    ]
    for expected_epoch, step in enumerate(steps, start=1):
        step()
        assert expected_epoch == graph.epoch


def test_snapshot_keeps_its_moment() -> None:
    """A snapshot keeps its rules, epoch and version through later mutations of every kind."""
    graph = graph_with_rule()
    snapshot = graph.snapshot()
    tree = graph.snapshot().rules.get("echo")
    graph.add_leaf("echo", "kid", Requirement("k2", ["const", False]))
    graph.remove_leaf("echo", "root", "r1")
    graph.put_rule("sum", const_set("s", "AND", True))
    graph.remove_rule("echo")
    assert (1, version_of({"echo": sample_tree()})) == (snapshot.epoch, snapshot.version)
    assert ["echo"] == sorted(snapshot.rules)
    assert tree is snapshot.rules["echo"]
    assert sample_tree().hash == snapshot.rules["echo"].hash
    assert T == snapshot.rules["echo"].evaluate(DOC)[0]


def test_predicate_passed_in_is_copied() -> None:
    """Changing the caller's predicate list after building changes neither hash nor outcome."""
    operand = [5]
    predicate: list[Any] = ["in", "args.n", operand]
    requirement = Requirement("r", predicate)
    root = RequirementSet("root", "AND", (requirement,))
    graph = PolicyGraph()
    graph.put_rule("echo", root)
    version, hash_before = graph.version, root.hash
    operand[0] = 6
    predicate[0] = "has"
    predicate.append("junk")
    assert ["in", "args.n", [5]] == requirement.predicate
    assert hash_before == graph.snapshot().rules.get("echo").hash
    assert version == graph.version
    assert T == graph.snapshot().rules.get("echo").evaluate(DOC)[0]


def test_build_set_copies_predicates() -> None:
    """A spec passed to build_set can be changed later without reaching the built set."""
    spec: dict[str, Any] = {
        "id": "root",
        "logic": "AND",
        "leaves": [{"id": "r", "predicate": ["le", "args.n", 5]}],
        "children": [],
    }
    built = build_set(spec)
    spec["leaves"][0]["predicate"][2] = 1
    assert T == built.evaluate(DOC)[0]
    assert ["le", "args.n", 5] == built.leaves[0].predicate


def set_to_json(requirement_set: RequirementSet) -> dict[str, Any]:
    """The JSON form build_set reads, written here so that build_set's round trip is checked."""
    return {
        "id": requirement_set.id,
        "logic": requirement_set.logic,
        "leaves": [
            {"id": leaf.id, "predicate": copy.deepcopy(leaf.predicate)}
            for leaf in requirement_set.leaves
        ],
        "children": [set_to_json(child) for child in requirement_set.children],
    }


def test_build_set_and_set_to_json_round_trip() -> None:
    """set_to_json and build_set are inverse: same JSON, same set, same hash."""
    spec = {
        "id": "root",
        "logic": "OR",
        "leaves": [
            {"id": "a", "predicate": ["eq", "args.o", {"k": [1, None]}]},
            {"id": "b", "predicate": ["const", False]},
        ],
        "children": [
            {"id": "kid", "logic": "", "leaves": [], "children": []},
            {
                "id": "kid2",
                "logic": "NOT",
                "leaves": [{"id": "c", "predicate": ["le", "args.n", 3]}],
                "children": [],
            },
        ],
    }
    built = build_set(spec)
    assert spec == set_to_json(built)
    rebuilt = build_set(set_to_json(built))
    assert built == rebuilt
    assert built.hash == rebuilt.hash
    assert sample_tree().hash == build_set(set_to_json(sample_tree())).hash


def test_build_set_defaults_logic_leaves_and_children() -> None:
    """build_set with only an id gives an empty set with logic "" (true)."""
    built = build_set({"id": "root"})
    assert RequirementSet("root", "", (), ()) == built
    assert {"id": "root", "logic": "", "leaves": [], "children": []} == set_to_json(built)


# --- property: evaluation against a reference evaluator -------------------------------------

LOGICS = ["AND", "OR", "NOT", "", "XOR"]

# A plain tree: (logic, leaf values, children).
PlainTree = tuple[str, list[bool], list[Any]]

plain_trees = st.recursive(
    st.tuples(st.sampled_from(LOGICS), st.lists(st.booleans(), max_size=3), st.just([])),
    lambda inner: st.tuples(
        st.sampled_from(LOGICS), st.lists(st.booleans(), max_size=3), st.lists(inner, max_size=3)
    ),
    max_leaves=12,
)


def reference_evaluate(tree: PlainTree) -> Outcome:
    """The spec's evaluation order, written independently: empty true, errors win, then logic."""
    logic, values, children = tree
    if not values and not children:
        return T
    operands = [T if v else F for v in values]
    for child in children:
        result = reference_evaluate(child)
        if result is E:
            return E
        operands.append(result)
    truths = [o is T for o in operands]
    if logic in ("AND", ""):
        return T if all(truths) else F
    if logic == "OR":
        return T if any(truths) else F
    if logic == "NOT":
        return F if all(truths) else T
    return E


def build_tree(tree: PlainTree, counter: list[int]) -> RequirementSet:
    """Build a RequirementSet from a plain tree, numbering set and leaf ids uniquely."""
    logic, values, children = tree
    counter[0] += 1
    set_id = f"set{counter[0]}"
    leaves = tuple(Requirement(f"{set_id}.r{i}", ["const", v]) for i, v in enumerate(values))
    built_children = tuple(build_tree(child, counter) for child in children)
    return RequirementSet(set_id, logic, leaves, built_children)


def leaf_ids(requirement_set: RequirementSet) -> set[str]:
    """Every requirement id in a tree."""
    ids = {leaf.id for leaf in requirement_set.leaves}
    for child in requirement_set.children:
        ids |= leaf_ids(child)
    return ids


@settings(max_examples=200, deadline=None)
@given(plain_trees)
def test_evaluation_matches_reference(tree: PlainTree) -> None:
    """Evaluating a random tree of constant leaves agrees with the reference evaluator."""
    built = build_tree(tree, [0])
    outcome, ids = built.evaluate({})
    assert reference_evaluate(tree) == outcome
    if outcome is T:
        assert [] == ids
    if outcome is F:
        assert set(ids) <= leaf_ids(built)
    assert built.hash == build_set(set_to_json(built)).hash


OPERANDS = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-9, max_value=9), st.text(max_size=3)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=2), inner, max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just("eq"), OPERANDS),
        st.tuples(st.just("in"), st.lists(OPERANDS, max_size=3)),
        st.tuples(st.just("le"), st.integers(min_value=-9, max_value=9)),
        st.tuples(st.just("has"), st.none()),
        st.tuples(st.just("const"), st.booleans()),
    )
)
def test_requirement_keeps_a_copy_equal_to_its_decoded_canonical_bytes(form: Any) -> None:
    """A requirement's predicate is its own copy, exactly what decoding its canonical bytes
    gives (lists for tuples, object members in canonical order), never the caller's list."""
    op, operand = form
    if op == "const":
        predicate = [op, operand]
    elif op == "has":
        predicate = [op, "args.x"]
    else:
        predicate = [op, "args.x", operand]
    requirement = Requirement("r", predicate)
    assert repr(json.loads(requirement.predicate_jcs)) == repr(requirement.predicate)
    assert requirement.predicate is not predicate
    predicate.append("later")
    assert "later" not in requirement.predicate


def reference_blocking(built: RequirementSet) -> tuple[Outcome, list[str]]:
    """The outcome and ids of a tree of constant leaves, written from the docstring: a part
    stands for its leaf id, a false child for its blocking ids, a true child for every id in
    it; AND reports the false parts, OR and NOT every part; an error, the one that erred."""
    if not built.leaves and not built.children:
        return T, []
    parts: list[tuple[bool, list[str]]] = []
    for leaf in built.leaves:
        parts.append((leaf.predicate[1], [leaf.id]))
    for child in built.children:
        outcome, ids = reference_blocking(child)
        if outcome is E:
            return E, ids
        parts.append((outcome is T, ids if outcome is F else child.requirement_ids()))
    truths = [truth for truth, _ in parts]
    logic = built.logic or "AND"
    if logic not in ("AND", "OR", "NOT"):
        return E, [f"{built.id}:logic={logic}"]
    holds = {"AND": all(truths), "OR": any(truths), "NOT": not all(truths)}[logic]
    if holds:
        return T, []
    reported = [ids for truth, ids in parts if logic != "AND" or not truth]
    return F, [i for ids in reported for i in ids]


@settings(max_examples=300, deadline=None)
@given(plain_trees)
def test_evaluation_reports_the_reference_ids_in_order(tree: PlainTree) -> None:
    """Evaluating a random tree gives exactly the reference's outcome and ids, in order."""
    built = build_tree(tree, [0])
    assert reference_blocking(built) == built.evaluate({})
