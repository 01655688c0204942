"""Billing records over the REST API (SPEC B9): upsert by external id, read back by external id.

`PUT` (or `POST`) `/api/v1/<kind>/` takes a JSON list of records of one kind — `contracts` (with their
counterparty), `objects`, `meters` (with metering point and registers), `documents` (optionally with the PDF
in base64), `payments`, `tariffs` — and upserts them by `external_id` in one transaction through
`crm.services.billing_import`, the same service as the back office's file import. `POST /api/v1/batch/`
takes several kinds at once, so a record may refer to another one of the same batch. `GET
/api/v1/<kind>/<external_id>` answers in the shape of the upsert, and `GET /api/v1/<kind>/` pages through
the records that have an external id (`after_id`/`limit`/`next_after_id`, as the readings API pages).
`PUT /api/v1/documents/<external_id>/pdf` stores a document's PDF.

Errors have the shape of the readings API (`crm/api/readings.py`): 422 with `message` and `errors`, one
entry per problem with the item's number (from 1), the field and the reason; nothing is written.
Numbers are exact: JSON numbers are read as decimals, and answers give decimal strings.
"""
from __future__ import annotations

import json
from decimal import Decimal

from apispec.exceptions import DuplicateComponentNameError
from flask import g, request
from flask_appbuilder.api import expose
from flask_babel import gettext as _
from marshmallow import Schema, fields
from marshmallow.validate import Length, OneOf, Range

from crm.api.base import BillingApi, token_required
from crm.services import ServiceError
from crm.services import billing_import as bi
from crm.services import billing_import_fields as bf

SCOPE = "billing"


def _schema_name(kind_name: str) -> str:
    return f"Billing{kind_name.capitalize()}Item"


def _ma_field(spec: bf.Field):
    """The marshmallow field describing one import column (for the OpenAPI document)."""
    metadata = {"description": str(spec.description)}
    if spec.example is not None:
        metadata["example"] = spec.dump(spec.example)
    options = {"required": spec.required, "allow_none": not spec.required, "metadata": metadata}
    if isinstance(spec, bf.Choice):
        return fields.String(validate=OneOf(spec.values), **options)
    if isinstance(spec, bf.Text):
        return fields.String(validate=Length(max=spec.max_length), **options)
    if isinstance(spec, bf.Number):
        # Answers give decimal strings (exact); requests may send a JSON number or such a string.
        metadata["description"] += " " + _("A decimal: a JSON number or a string like \"1234.56\".")
        metadata["format"] = "decimal"
        return fields.String(**options)
    if isinstance(spec, bf.Integer):
        return fields.Integer(validate=Range(spec.minimum, spec.maximum), **options)
    if isinstance(spec, bf.Day):
        return fields.Date(**options)
    if isinstance(spec, bf.Month):
        metadata["pattern"] = r"^\d{4}-\d{2}$"
        return fields.String(**options)
    if isinstance(spec, bf.Flag):
        return fields.Boolean(**options)
    if isinstance(spec, bf.RegisterList):
        return fields.List(fields.String(), **options)
    if isinstance(spec, bf.EmailList):
        return fields.List(fields.Email(), **options)
    metadata["format"] = "byte"
    return fields.String(**options)


def item_schema(kind) -> type[Schema]:
    """A marshmallow schema of one record of `kind`, built from the import's column declarations."""
    attrs = {spec.name: _ma_field(spec) for spec in kind.fields}
    if kind.name == "documents":
        attrs["has_pdf"] = fields.Boolean(dump_only=True, metadata={"description": _("A PDF is stored.")})
    return Schema.from_dict(attrs, name=_schema_name(kind.name))


class CountsSchema(Schema):
    created = fields.Integer(metadata={"description": "Records created"})
    updated = fields.Integer(metadata={"description": "Records whose fields changed"})
    unchanged = fields.Integer(metadata={"description": "Records already as sent"})


class BillingImportResultSchema(CountsSchema):
    counts = fields.Dict(keys=fields.String(), values=fields.Nested(CountsSchema),
                         metadata={"description": "Counts per entity kind (contracts also count counterparties, "
                                                  "meters their metering points)"})


class BillingProblemSchema(Schema):
    item = fields.Integer(metadata={"description": "The item's number in the list, from 1 (0: the whole body)"})
    kind = fields.String(metadata={"description": "The kind of the item (batch upserts)"})
    field = fields.String(allow_none=True, metadata={"description": "The field, if the problem is in one"})
    message = fields.String(metadata={"description": "The reason, in the request's language"})


class BillingImportErrorSchema(Schema):
    message = fields.String()
    errors = fields.List(fields.Nested(BillingProblemSchema))


class BillingRecordsApi(BillingApi):
    """Shared behaviour of the per-kind resources; the OpenAPI components are built per request (localised)."""

    openapi_spec_tag = "Billing records"
    openapi_spec_component_schemas = (BillingImportResultSchema, BillingImportErrorSchema)

    def add_apispec_components(self, api_spec) -> None:
        super().add_apispec_components(api_spec)
        for kind in bi.kinds():
            try:
                api_spec.components.schema(_schema_name(kind.name), schema=item_schema(kind))
            except DuplicateComponentNameError:
                pass

    def _payload(self):
        try:
            return json.loads(request.get_data(cache=False) or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return _INVALID

    def _answer(self, call):
        try:
            counts, main = call()
        except bi.BillingImportError as error:
            return self.response(422, message=error.message, errors=[
                {"item": p.number, "kind": p.kind, "field": p.field, "message": p.message} for p in error.problems])
        except ServiceError as error:
            return self.response(error.status, message=error.message)
        totals = counts.get(main) or {"created": 0, "updated": 0, "unchanged": 0}
        return self.response(200, **totals, counts=counts)

    def upsert_kind(self, kind_name: str):
        payload = self._payload()
        if payload is _INVALID:
            return self.response(400, message=_("The body is not valid JSON."))
        detail = {"token": g.api_token.name}
        return self._answer(lambda: (bi.import_records(kind_name, payload, detail=detail), kind_name))

    def list_kind(self, kind_name: str):
        try:
            after_id = int(request.args.get("after_id") or 0)
            limit = int(request.args.get("limit") or bi.DEFAULT_PAGE)
        except ValueError:
            return self.response(400, message=_("after_id and limit must be whole numbers."))
        try:
            items, next_after_id = bi.export_page(kind_name, after_id, limit)
        except ServiceError as error:
            return self.response(400, message=error.message)
        return self.response(200, items=items, next_after_id=next_after_id)

    def get_kind(self, kind_name: str, external_id: str):
        record = bi.export_record(kind_name, external_id)
        if record is None:
            return self.response(404, message=_("No record with the external id %(id)s.", id=external_id))
        return self.response(200, **record)


_INVALID = object()

_UPSERT_DOC = """Upsert {kind} by external id.
        ---
        {method}:
          summary: Upsert {kind} by external id (all or nothing)
          description: >-
            A JSON list of at most {max} records. A record with a known `external_id` is updated (only changed
            fields), a new one is created; sending the same list twice changes nothing. A field left out keeps
            its stored value (a new record gets the default); a field sent empty (null or "") clears it or sets
            its default. Any problem → 422 listing every problem, nothing written.
          security:
          - bearerAuth: []
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: array
                  maxItems: {max}
                  items: {{$ref: '#/components/schemas/{schema}'}}
          responses:
            200:
              description: Imported; counts per kind
              content:
                application/json:
                  schema: {{$ref: '#/components/schemas/BillingImportResultSchema'}}
            400:
              description: The body is not JSON
            401:
              description: No valid token
            403:
              description: The token has no `billing` scope
            413:
              description: More than {max} records
            422:
              description: Nothing written; every problem with the item's number (from 1), field and reason
              content:
                application/json:
                  schema: {{$ref: '#/components/schemas/BillingImportErrorSchema'}}
        """

_GET_DOC = """One of {kind} by external id.
        ---
        get:
          summary: Read one of {kind} by external id
          description: The record in the shape of its upsert (decimals as strings).
          security:
          - bearerAuth: []
          parameters:
          - {{in: path, name: external_id, required: true, schema: {{type: string, maxLength: 64}}}}
          responses:
            200:
              description: The record
              content:
                application/json:
                  schema: {{$ref: '#/components/schemas/{schema}'}}
            401:
              description: No valid token
            403:
              description: The token has no `billing` scope
            404:
              description: No record with this external id
        """


_LIST_DOC = """Page through {kind}.
        ---
        get:
          summary: List {kind} that have an external id, keyset-paged
          description: >-
            Records in the shape of their upsert, ordered by their internal id. Page with `after_id` = the
            previous page's `next_after_id` until it is null (as in the readings API).
          security:
          - bearerAuth: []
          parameters:
          - {{in: query, name: after_id, required: false, schema: {{type: integer, minimum: 0}}}}
          - {{in: query, name: limit, required: false, schema: {{type: integer, minimum: 1, maximum: {max_page}}}}}
          responses:
            200:
              description: One page
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      items: {{type: array, items: {{$ref: '#/components/schemas/{schema}'}}}}
                      next_after_id: {{type: integer, nullable: true}}
            400:
              description: A bad paging parameter
            401:
              description: No valid token
            403:
              description: The token has no `billing` scope
        """


def _kind_api(class_name: str, kind_name: str, extra: dict | None = None) -> type:
    """The resource of one kind: `PUT`/`POST /api/v1/<kind>/` and `GET /api/v1/<kind>/<external_id>`."""

    def upsert(self):
        return self.upsert_kind(kind_name)

    def read(self, external_id: str):
        return self.get_kind(kind_name, external_id)

    def list_records(self):
        return self.list_kind(kind_name)

    names = {"kind": kind_name, "schema": _schema_name(kind_name), "max": bi.MAX_ITEMS}
    upsert.__doc__ = _UPSERT_DOC.format(method="put", **names)
    upsert_post = _copy(upsert, _UPSERT_DOC.format(method="post", **names))
    read.__doc__ = _GET_DOC.format(**names)
    list_records.__doc__ = _LIST_DOC.format(max_page=bi.MAX_PAGE, **names)
    namespace = {
        "resource_name": kind_name,
        "__doc__": f"`/api/v1/{kind_name}/`: upsert and read {kind_name} by external id.",
        "upsert": expose("/", methods=["PUT"])(token_required(SCOPE)(upsert)),
        "upsert_post": expose("/", methods=["POST"])(token_required(SCOPE)(upsert_post)),
        "read": expose("/<external_id>", methods=["GET"])(token_required(SCOPE)(read)),
        "list_records": expose("/", methods=["GET"])(token_required(SCOPE)(list_records)),
        **(extra or {}),
    }
    return type(class_name, (BillingRecordsApi,), namespace)


def _copy(function, doc: str):
    def copy(self, *args, **kwargs):
        return function(self, *args, **kwargs)

    copy.__doc__ = doc
    copy.__name__ = function.__name__ + "_post"
    return copy


@token_required(SCOPE)
def put_pdf(self, external_id: str):
    """Store a billing document's PDF.
    ---
    put:
      summary: Store the PDF of a billing document
      description: >-
        The body is the PDF itself (`Content-Type: application/pdf`, at most 10 MB). Sending the same file
        again changes nothing.
      security:
      - bearerAuth: []
      parameters:
      - {in: path, name: external_id, required: true, schema: {type: string, maxLength: 64}}
      requestBody:
        required: true
        content:
          application/pdf:
            schema: {type: string, format: binary}
      responses:
        200:
          description: Stored (`changed` is false when the same file was already stored)
          content:
            application/json:
              schema:
                type: object
                properties:
                  changed: {type: boolean}
        401:
          description: No valid token
        403:
          description: The token has no `billing` scope
        404:
          description: No billing document with this external id
        422:
          description: Not a PDF, or too large
          content:
            application/json:
              schema: {$ref: '#/components/schemas/BillingImportErrorSchema'}
    """
    data = request.get_data(cache=False)
    return self._answer_pdf(external_id, data)


def _answer_pdf(self, external_id: str, data: bytes):
    try:
        changed = bi.attach_document_pdf(external_id, data, detail={"token": g.api_token.name})
    except bi.BillingImportError as error:
        return self.response(422, message=error.message, errors=[
            {"item": p.number, "kind": p.kind, "field": p.field, "message": p.message} for p in error.problems])
    except ServiceError as error:
        return self.response(error.status, message=error.message)
    return self.response(200, changed=changed)


TariffsApi = _kind_api("TariffsApi", "tariffs")
ContractsApi = _kind_api("ContractsApi", "contracts")
ObjectsApi = _kind_api("ObjectsApi", "objects")
MetersApi = _kind_api("MetersApi", "meters")
DocumentsApi = _kind_api("DocumentsApi", "documents", {
    "put_pdf": expose("/<external_id>/pdf", methods=["PUT"])(put_pdf), "_answer_pdf": _answer_pdf})
PaymentsApi = _kind_api("PaymentsApi", "payments")


class BatchApi(BillingRecordsApi):
    """`POST /api/v1/batch/`: several kinds in one transaction, references resolved within the batch."""

    resource_name = "batch"

    @expose("/", methods=["POST"])
    @token_required(SCOPE)
    def upsert(self):
        """Upsert several kinds at once.
        ---
        post:
          summary: Upsert records of several kinds in one transaction
          description: >-
            An object of record lists by kind (`tariffs`, `contracts`, `objects`, `meters`, `documents`,
            `payments`), at most 5000 records in all. Kinds are applied in that order, so a meter may name an
            object, and a payment a document, sent in the same batch. All or nothing, like the per-kind upserts;
            an error's `kind` and `item` point at the record.
          security:
          - bearerAuth: []
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    tariffs: {type: array, items: {$ref: '#/components/schemas/BillingTariffsItem'}}
                    contracts: {type: array, items: {$ref: '#/components/schemas/BillingContractsItem'}}
                    objects: {type: array, items: {$ref: '#/components/schemas/BillingObjectsItem'}}
                    meters: {type: array, items: {$ref: '#/components/schemas/BillingMetersItem'}}
                    documents: {type: array, items: {$ref: '#/components/schemas/BillingDocumentsItem'}}
                    payments: {type: array, items: {$ref: '#/components/schemas/BillingPaymentsItem'}}
          responses:
            200:
              description: Imported; counts per kind (the top-level counts are zero)
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/BillingImportResultSchema'}
            400:
              description: The body is not JSON
            401:
              description: No valid token
            403:
              description: The token has no `billing` scope
            413:
              description: More than 5000 records
            422:
              description: Nothing written; every problem with its kind, item number, field and reason
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/BillingImportErrorSchema'}
        """
        payload = self._payload()
        if payload is _INVALID:
            return self.response(400, message=_("The body is not valid JSON."))
        detail = {"token": g.api_token.name}
        return self._answer(lambda: (bi.import_mixed(payload, detail=detail), None))


BILLING_API_CLASSES = [TariffsApi, ContractsApi, ObjectsApi, MetersApi, DocumentsApi, PaymentsApi, BatchApi]
