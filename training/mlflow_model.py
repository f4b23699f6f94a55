"""The registered model's pyfunc, logged as code (MLflow "models from code"): nothing is unpickled on load.

``load_context`` rebuilds the RiskModel from its weights file with ``torch.load(weights_only=True)``
(``training.fit.load_model``), so the registered model takes raw feature rows - exactly the columns of
the task's FeatureService - and returns the risk per row.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import polars as pl

from training.fit import load_model


class RiskModelPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model = load_model(context.artifacts["weights"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        frame = pl.from_pandas(pd.DataFrame(model_input))
        return pd.Series(self.model.predict_raw(frame), name="risk")


mlflow.models.set_model(RiskModelPyfunc())
