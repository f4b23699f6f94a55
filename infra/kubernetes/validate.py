"""Offline validation of the manifests under infra/kubernetes against the Kubernetes 1.33 OpenAPI schemas.

Runs in the infra tools venv (`make infra-venv`: kubernetes-validate, jsonschema, PyYAML), never the app venv:

    .venv-infra/bin/python infra/kubernetes/validate.py            # every manifest, human-readable
    .venv-infra/bin/python infra/kubernetes/validate.py --json FILE...

- Core kinds: kubernetes-validate's strict schemas (unknown fields are errors, as `kubectl apply --validate=strict`
  would report them) for the Kubernetes version below. A kind without a schema is an error, not a warning.
- RayCluster (ray.io/v1, a CRD: no schema ships with Kubernetes): our subset schema
  schemas/raycluster.ray.io_v1.json, then every pod template (head, each worker group) wrapped in a core
  PodTemplate and validated strict, and the autoscaler sidecar options as a container of the head's pod.
kustomization.yaml files (composition only) and schemas/ are not manifests and are skipped.
Exit status 0 when every document passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.33.0"
ROOT = Path(__file__).resolve().parent
RAYCLUSTER_SCHEMA = ROOT / "schemas" / "raycluster.ray.io_v1.json"


def manifest_files(root: Path = ROOT) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.y*ml")
        if p.suffix in (".yaml", ".yml")
        and p.name != "kustomization.yaml"
        and "schemas" not in p.relative_to(root).parts
    )


def documents(path: Path) -> Iterator[tuple[int, Any]]:
    for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
        if doc is not None:
            yield index, doc


def _core(doc: dict) -> str | None:
    """The first strict-schema error of a core object, or None."""
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path) or "<root>"
        return f"{path}: {e.message}"
    except kubernetes_validate.SchemaNotFoundError as e:
        return e.message
    return None


def _pod_template(name: str, namespace: str, template: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "template": template,
    }


def _raycluster(doc: dict) -> list[tuple[str, str | None]]:
    """(target, error) for the RayCluster itself, each of its pod templates and the autoscaler container."""
    schema = json.loads(RAYCLUSTER_SCHEMA.read_text())
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path)
    )
    out: list[tuple[str, str | None]] = [
        (
            f"RayCluster subset schema ({RAYCLUSTER_SCHEMA.name})",
            "; ".join(
                f"{'.'.join(str(p) for p in e.path) or '<root>'}: {e.message}" for e in errors
            )
            or None,
        )
    ]
    spec = doc.get("spec") or {}
    meta = doc.get("metadata") or {}
    name, namespace = meta.get("name", "raycluster"), meta.get("namespace", "default")
    head = (spec.get("headGroupSpec") or {}).get("template")
    templates = [("headGroupSpec.template", "head", head)]
    templates += [
        (
            f"workerGroupSpecs[{i}].template ({g.get('groupName')})",
            g.get("groupName", str(i)),
            g.get("template"),
        )
        for i, g in enumerate(spec.get("workerGroupSpecs") or [])
    ]
    for target, suffix, template in templates:
        if isinstance(template, dict):
            out.append(
                (
                    f"{target} as core PodTemplateSpec",
                    _core(_pod_template(f"{name}-{suffix}", namespace, template)),
                )
            )
    options = spec.get("autoscalerOptions")
    if isinstance(options, dict) and isinstance(head, dict):
        # KubeRay injects the autoscaler as a sidecar of the head pod built from these options
        pod = copy.deepcopy(head)
        head_image = (pod.get("spec", {}).get("containers") or [{}])[0].get(
            "image", "rayproject/ray"
        )
        sidecar = {"name": "autoscaler", "image": options.get("image", head_image)}
        for field in (
            "imagePullPolicy",
            "resources",
            "securityContext",
            "env",
            "envFrom",
            "volumeMounts",
        ):
            if field in options:
                sidecar[field] = options[field]
        pod.setdefault("spec", {}).setdefault("containers", []).append(sidecar)
        out.append(
            (
                "autoscalerOptions as a container of the head pod",
                _core(_pod_template(f"{name}-autoscaler", namespace, pod)),
            )
        )
    return out


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validate_file(path: Path) -> list[dict]:
    results = []
    try:
        docs = list(documents(path))
    except yaml.YAMLError as e:
        return [
            {
                "file": _shown(path),
                "doc": None,
                "kind": None,
                "name": None,
                "target": "YAML",
                "ok": False,
                "error": f"YAML parse error: {e}",
            }
        ]
    for index, doc in docs:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc, dict) else None
        base = {"file": _shown(path), "doc": index, "kind": kind, "name": name}
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            results.append(
                {
                    **base,
                    "target": "object",
                    "ok": False,
                    "error": "not a Kubernetes object (apiVersion/kind)",
                }
            )
        elif doc["apiVersion"] == "ray.io/v1" and kind == "RayCluster":
            for target, error in _raycluster(doc):
                results.append({**base, "target": target, "ok": error is None, "error": error})
        else:
            error = _core(doc)
            results.append(
                {
                    **base,
                    "target": f"Kubernetes {K8S_VERSION} strict schema",
                    "ok": error is None,
                    "error": error,
                }
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="manifest files (default: every one under infra/kubernetes)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args(argv)
    files = args.paths or manifest_files()
    results = [r for path in files for r in validate_file(path)]
    failed = [r for r in results if not r["ok"]]
    if args.json:
        print(
            json.dumps(
                {
                    "kubernetes_version": K8S_VERSION,
                    "files": [_shown(f) for f in files],
                    "results": results,
                    "passed": len(results) - len(failed),
                    "failed": len(failed),
                }
            )
        )
    else:
        for r in results:
            status = "PASS" if r["ok"] else "FAIL"
            print(
                f"{status} {r['file']} {r['kind']}/{r['name']} [{r['target']}]"
                + ("" if r["ok"] else f": {r['error']}")
            )
        print(
            f"{len(results) - len(failed)} passed, {len(failed)} failed (Kubernetes {K8S_VERSION})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
