"""A readable API reference page rendered on the server from the OpenAPI document.

No JavaScript and no CDN: the page is plain HTML built from the same document that
/v1/openapi.json serves, so the two cannot drift apart.
"""

from functools import lru_cache

from django.shortcuts import render

from .urls import api

METHODS = ("get", "post", "patch", "put", "delete")


def _resolve(doc: dict, schema: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc.get("components", {}).get("schemas", {}).get(name, {})
    return schema or {}


def _type_label(doc: dict, schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type_label(doc, s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if schema.get("type") == "array":
        return f"list of {_type_label(doc, schema.get('items', {}))}"
    return schema.get("type", "any")


def _fields(doc: dict, schema: dict) -> list[dict]:
    schema = _resolve(doc, schema)
    required = set(schema.get("required", []))
    return [{"name": name, "type": _type_label(doc, spec), "required": name in required,
             "description": spec.get("description", "")}
            for name, spec in schema.get("properties", {}).items()]


@lru_cache(maxsize=1)
def _operations() -> tuple[dict, list[dict]]:
    doc = api.get_openapi_schema(path_prefix="/v1")
    ops = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, resp in sorted(op.get("responses", {}).items()):
                schema = resp.get("content", {}).get("application/json", {}).get("schema", {})
                responses.append({"code": code, "description": resp.get("description", ""),
                                  "schema": _type_label(doc, schema) if schema else ""})
            ops.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "tag": (op.get("tags") or ["other"])[0],
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": _type_label(doc, p.get("schema", {})),
                                "description": p.get("description", "") or p.get("schema", {}).get("description", "")}
                               for p in op.get("parameters", [])],
                "body": _fields(doc, body) if body else [],
                "responses": responses,
            })
    return doc, ops


def api_reference(request):
    doc, ops = _operations()
    models = {name: _fields(doc, schema) for name, schema in doc.get("components", {}).get("schemas", {}).items()}
    return render(request, "api/reference.html", {"info": doc["info"], "operations": ops, "models": models})
