"""Examples composed from a JSON Schema, for the OpenAPI documents (services/kit/openapi.py) and the
AsyncAPI document (contracts/generate.py): a schema's own `examples[0]` where it has one, else a
value built from its parts, with Rongchang's words for free-text fields (`DOMAIN_EXAMPLES`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCHEMAS = "#/components/schemas/"


# What a free-text field holds in Rongchang, by property name: a composed example says "刘晓梅" and
# "昌元街道" where the field's own schema gives no example, instead of "string". A field that declares
# `examples=` wins; a value here must still fit the field's schema (the walking test validates).
DOMAIN_EXAMPLES: dict[str, Any] = {
    "name": "刘晓梅",
    "name_masked": "刘*梅",
    "town": "昌元街道",
    "towns": ["昌元街道"],
    "employer_name": "重庆荣昌某某食品有限公司",
    "payee_name": "重庆荣昌某某食品有限公司",
    "employer_credit_code": "91500226MA5U3P7X13",
    "credit_code": "91500226MA5U3P7X13",
    "id_number_masked": "500226********0025",
    "household_no": "RC-2024-0815",
    "hukou_area_code": "500226",
    "phone": "13800000000",
    "provider": "荣昌区职业教育中心",
    "purpose": "就业困难人员认定核查",
    "amount": "6000.00",
    "reserved": "6000.00",
    "spent": "0.00",
    "available": "594000.00",
    "period": "2026-11",
    "labour_force_period": "2025",
    "month": "2026-11",
    "dataset": "dibao",
    "agency": "civil_affairs",
    "provider_agency": "civil_affairs",
    "consumer_agency": "hrss",
    "key_prefix": "rk_3Hq9",
    "api_key": "rk_3Hq9x0mZbW7cT2nVd8sKfL4pYr6uJe1A",
    "client_id": "c2b8d3e4-1f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "source": "civil_affairs",
    "note": "材料齐全，符合条件",
    "reason": "银行账户户名不符",
    "bank_reference": "ICBC-500226-20261204-0001",
    "id_number": "500226199003150025",
    "business_credit_code": "92500226MA5U3P7X10",
    "next_cursor": "eyJhZnRlciI6IjNmMmM5YTdlLTViMWQtNGU4Zi05YTZjLTJkN2IxZTBmNGE1MyJ9",
    "recorded": ["2026-10", "2026-11"],
    "already_recorded": ["2026-09"],
    "content_type": "application/json",
    "fields": ["id_number_masked", "status", "employer_name"],
    "description": "城镇新增就业人数",
    "field": "records[0].id_number",
    "message": "校验码不符",
    "subject_ref": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "birth_year": 1990,
    "age": 36,
    "year": 2026,
    "contract_months": 24,
    "total_months": 12,
    "separations_30d": 23,
    "threshold": 20,
    "record_count": 2,
    "accepted": 2,
    "accepted_count": 2,
    "rejected_count": 0,
    "amount_fen": 600000,
}


def example_of(
    schema: dict[str, Any], schemas: dict[str, Any], seen: Sequence[str] = (), name: str | None = None
) -> Any:
    """An example of `schema`: its own `examples[0]`, else one composed from its parts. None when no
    value can be given (an unconstrained pattern, say)."""
    if "$ref" in schema:
        component = schema["$ref"].removeprefix(SCHEMAS)
        if component in seen:
            return None
        return example_of(schemas.get(component, {}), schemas, (*seen, component))
    if name in DOMAIN_EXAMPLES and "examples" not in schema and "enum" not in schema and "const" not in schema:
        return DOMAIN_EXAMPLES[name]
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            options = [option for option in schema[combined] if option.get("type") != "null"]
            for option in options:
                value = example_of(option, schemas, seen, name)
                if value is not None:
                    return value
            return None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        composed: dict[str, Any] = {}
        for prop_name, prop in schema.get("properties", {}).items():
            part = example_of(prop, schemas, seen, prop_name)
            if part is not None:
                composed[prop_name] = part
            elif prop_name in schema.get("required", ()):
                return None
        return composed
    if kind == "array":
        item = example_of(schema.get("items", {}), schemas, seen)
        return [] if item is None else [item]
    return _scalar_example(schema)


def _scalar_example(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if kind == "integer" else 1)
    if kind != "string" or "pattern" in schema:
        return None
    return {
        "uuid": "3f2c9a7e-5b1d-4e8f-9a6c-2d7b1e0f4a53",
        "date": "2026-12-01",
        "date-time": "2026-12-01T09:30:00+08:00",
        "email": "jiuye@rongchang.gov.cn",
        "uri": "https://rongchang.gov.cn/",
    }.get(schema.get("format", ""), "string")
