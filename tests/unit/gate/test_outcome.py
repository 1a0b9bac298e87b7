"""What the PR report says when the check reached no verdict: the words for an unreachable
MLflow (gate exit 3) and a configuration error (exit 2), and the jobs that failed, with
every piece of data (job names, errors, the URI) kept inert."""

from modelrail.gate.outcome import failed_jobs_markdown, gate_error_markdown

from tests.support.markdown_check import HOSTILE, assert_inert


def test_exit_3_says_mlflow_was_unreachable_and_the_model_is_not_to_blame() -> None:
    text = gate_error_markdown(3, "MLflow at http://mlflow:5000 kept failing after 4 attempts",
                               "https://bot:s3cret@mlflow.example:5000")

    assert text.startswith("### 🛑 Quality gate could not run: MLflow unreachable\n")
    assert ("MLflow at <code>https://mlflow.example:5000</code> could not be reached after "
            "retries, so the gate could not compare this model with the champion.") in text
    assert "s3cret" not in text
    assert "bot" not in text
    assert "Nothing is necessarily wrong with your model" in text
    assert "re-run this check when MLflow is back" in text
    assert "> **Error:** MLflow at http://mlflow:5000 kept failing after 4 attempts" in text


def test_exit_3_without_a_uri_still_says_mlflow() -> None:
    text = gate_error_markdown(3, "", "")

    assert "\nMLflow could not be reached after retries" in text
    assert "**Error:**" not in text


def test_exit_2_quotes_the_configuration_error() -> None:
    error = "modelrail.yaml: gate.metrics.roc_auc: unknown key 'treshold' (did you mean threshold?)"
    text = gate_error_markdown(2, error, "http://mlflow:5000")

    assert text.startswith("### 🛑 Quality gate could not run: configuration error\n")
    assert "the error below names it" in text
    assert "unknown key 'treshold' \\(did you mean threshold?\\)" in text
    assert "mlflow:5000" not in text


def test_another_exit_code_is_named() -> None:
    assert "Quality gate could not run: exit code 4" in gate_error_markdown(4, "", "")


def test_failed_jobs_are_named() -> None:
    text = failed_jobs_markdown(["Model tests", "Reproduce and diff"])

    assert text.startswith("### 🛑 The PR check did not finish\n")
    assert "Did not succeed: **Model tests**, **Reproduce and diff**." in text


def test_hostile_errors_uris_and_job_names_stay_inert() -> None:
    assert_inert(gate_error_markdown(3, "refused", "http://mlflow:5000"),
                 gate_error_markdown(3, HOSTILE, HOSTILE))
    assert_inert(gate_error_markdown(2, "bad key", ""), gate_error_markdown(2, HOSTILE, ""))
    assert_inert(failed_jobs_markdown(["tests"]), failed_jobs_markdown([HOSTILE]))
