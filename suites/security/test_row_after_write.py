"""The row after the write: every write cell of the matrix reads its table back as the
superuser in the same transaction. An allowed write leaves exactly the row the model expects
and no other row touched; a refused write leaves its table unchanged. A failure names the cell,
the column, the value the model expects and the value found."""

from __future__ import annotations

import pytest

from soberharness.runner.matrix import MatrixRun


@pytest.mark.needs("postgres")
def test_every_write_leaves_the_rows_the_model_expects(matrix_run: MatrixRun) -> None:
    writes = [r for r in matrix_run.results if r.cell.op.value != "select" and r.actual]
    assert writes, "the matrix has allowed writes to read back"
    assert not matrix_run.drifts, "\n".join(d.describe() for d in matrix_run.drifts)
