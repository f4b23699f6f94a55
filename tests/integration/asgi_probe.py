"""Run inside a child process by ``test_serving_bento.py``: load a Bento the way ``bentoml serve`` does
(``bentoml.load``: its pinned arguments, its service module) and answer a few requests through the service's
``to_asgi()`` app in process (Starlette's TestClient runs the lifespan, so the service starts for real: model,
Feast store). Prints one JSON object with what came back.

    python -m tests.integration.asgi_probe <bento_tag> <known_patient_id> <unknown_patient_id>
"""

from __future__ import annotations

import json
import pickle
import sys


def main(tag: str, known: str, unknown: str) -> None:
    import bentoml
    from starlette.testclient import TestClient

    service = bentoml.load(tag)
    app = service.to_asgi()
    out: dict = {"apis": sorted(service.apis), "tracing": service.config.get("tracing", {})}
    with TestClient(app) as client:

        def call(path, **kw):
            resp = client.post(path, **kw)
            return {"status": resp.status_code, "body": resp.json()}

        out["good"] = call("/predict_by_id", json={"patient_id": known})
        out["bad"] = call("/predict_by_id", json={"patient_id": "MRN-12345"})
        out["unknown"] = call("/predict_by_id", json={"patient_id": unknown})
        out["pickle"] = call(
            "/predict_by_id",
            content=pickle.dumps({"patient_id": known}),
            headers={"Content-Type": "application/vnd.bentoml+pickle"},
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
