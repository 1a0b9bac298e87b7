"""export-argo's scalar check (`returns_scalar`): any text gets an answer, scalar
expressions stay scalar however they are combined, and anything with a vector in it at
the top level is not a scalar."""

from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.canary.argo_template import returns_scalar

from tests.property.strategies import examples

OPERATORS = st.sampled_from(["+", "-", "*", "/", "%", "^"])
SCALARS = st.recursive(
    st.one_of(st.integers(0, 10**6).map(str), st.just("time()"), st.just("pi()"),
              st.just('scalar(sum(rate(req{code=~"5.."}[5m])))')),
    lambda inner: st.one_of(
        st.tuples(inner, OPERATORS, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda e: f"({e})")),
    max_leaves=6)
VECTORS = st.sampled_from(['sum(rate(req{version="2"}[5m]))', "vector(1)", "up",
                           'x{a="scalar(1) + 2"}', "avg(score) / scalar(avg(score))"])


@settings(max_examples=examples(300))
@given(st.text(max_size=80))
def test_any_text_gets_an_answer(query: str) -> None:
    assert isinstance(returns_scalar(query), bool)


@settings(max_examples=examples(200))
@given(SCALARS)
def test_scalar_expressions_are_scalar(query: str) -> None:
    assert returns_scalar(query)


@settings(max_examples=examples(200))
@given(SCALARS, OPERATORS, VECTORS, st.booleans())
def test_a_vector_operand_makes_a_vector(scalar: str, operator: str, vector: str,
                                         first: bool) -> None:
    query = f"{vector} {operator} {scalar}" if first else f"{scalar} {operator} {vector}"
    assert not returns_scalar(query)
