"""Readings for the billing system (SPEC B9): submitted readings out, accepted readings in.

The same service as the back office's files (`crm.services.readings_billing`): the export's fields
and the import's identification, idempotency and all-or-nothing rule are the same on both paths.
"""
from __future__ import annotations

from decimal import Decimal

from flask import g, request
from flask_appbuilder.api import expose
from flask_babel import gettext as _

from crm.api.base import BillingApi, token_required
from crm.services import readings_billing as rb


def _json_value(value):
    if isinstance(value, Decimal):
        return rb._plain(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="seconds") if hasattr(value, "hour") else value.isoformat()
    return value


class ReadingsApi(BillingApi):
    """`/api/v1/readings/…`: the submitted readings of a period, and the readings billing accepted."""

    resource_name = "readings"
    openapi_spec_tag = "Readings"

    @expose("/submitted", methods=["GET"])
    @token_required("readings")
    def submitted(self):
        """Submitted readings of a period, keyset-paged by reading id.
        ---
        get:
          summary: Submitted readings of a period
          description: >-
            The readings customers submitted for `period` (not yet accepted or rejected), ordered by
            reading id. Page with `after_id` = the previous page's `next_after_id` until it is null.
            Numbers are decimal strings (exact).
          security:
          - bearerAuth: []
          parameters:
          - {in: query, name: period, required: true, schema: {type: string, example: "2024-01"}}
          - {in: query, name: branch, required: false, schema: {type: string}, description: branch code}
          - {in: query, name: after_id, required: false, schema: {type: integer, minimum: 0}}
          - {in: query, name: limit, required: false, schema: {type: integer, minimum: 1, maximum: 5000}}
          responses:
            200:
              description: One page of readings
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      items:
                        type: array
                        items:
                          type: object
                          properties:
                            reading_id: {type: integer}
                            contract: {type: string}
                            account: {type: string, nullable: true}
                            object_code: {type: string}
                            meter_serial: {type: string}
                            zone: {type: string, enum: [all_day, day, night, peak, semi_peak]}
                            direction: {type: string, enum: [A+, A-, R+, R-]}
                            period: {type: string, example: "2024-01"}
                            value: {type: string, example: "12345.6"}
                            previous: {type: string, nullable: true}
                            consumption: {type: string, nullable: true}
                            submitted_at: {type: string, format: date-time}
                            source: {type: string}
                      next_after_id: {type: integer, nullable: true}
            400:
              description: A bad period, branch or paging parameter
            401:
              description: No valid token
            403:
              description: The token has no `readings` scope
        """
        problems = []
        try:
            period = rb.parse_period(request.args.get("period"))
        except rb.ExportFilterError as error:
            problems.append(error.message)
            period = None
        after_id = limit = None
        try:
            after_id = int(request.args.get("after_id") or 0)
            limit = int(request.args.get("limit") or rb.DEFAULT_PAGE)
        except ValueError:
            problems.append(_("after_id and limit must be whole numbers."))
        else:
            if after_id < 0 or not 1 <= limit <= rb.MAX_PAGE:
                problems.append(_("limit must be from 1 to %(max)s and after_id not negative.", max=rb.MAX_PAGE))
        if problems:
            return self.response(400, message=" ".join(problems))
        branch = (request.args.get("branch") or "").strip() or None
        rows = rb.submitted_rows(period, branch, after_id=after_id, limit=limit)
        items = [{key: _json_value(value) for key, value in row.items()} for row in rows]
        next_after_id = rows[-1]["reading_id"] if len(rows) == limit else None
        return self.response(200, items=items, next_after_id=next_after_id)

    @expose("/accepted", methods=["POST"])
    @token_required("readings")
    def accepted(self):
        """Readings accepted by billing: upserted by external id, all or nothing.
        ---
        post:
          summary: Import accepted readings
          description: >-
            A JSON list. Each item names billing's `external_id` and the reading: `meter_serial`
            (+ `contract` when the serial is not unique), `zone`, `direction`, `period` (YYYY-MM) and
            `value` (a decimal string or number). An item with a known external id updates that reading;
            otherwise the register's reading of that period becomes accepted, or a new one is created.
            Sending the same list twice changes nothing. Any bad item → 422 listing every bad item, and
            nothing is written.
          security:
          - bearerAuth: []
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: array
                  items:
                    type: object
                    required: [external_id, meter_serial, zone, direction, period, value]
                    properties:
                      external_id: {type: string, maxLength: 64}
                      contract: {type: string, example: "77000000000001"}
                      meter_serial: {type: string}
                      zone: {type: string, enum: [all_day, day, night, peak, semi_peak]}
                      direction: {type: string, enum: [A+, A-, R+, R-]}
                      period: {type: string, example: "2024-01"}
                      value: {type: string, example: "12345.6"}
          responses:
            200:
              description: Imported
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      created: {type: integer}
                      updated: {type: integer}
                      unchanged: {type: integer}
            401:
              description: No valid token
            403:
              description: The token has no `readings` scope
            422:
              description: Nothing written; every bad item with its number (from 1) and reason
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message: {type: string}
                      errors:
                        type: array
                        items:
                          type: object
                          properties:
                            item: {type: integer}
                            message: {type: string}
        """
        payload = request.get_json(silent=True)
        items, problems = rb.items_from_json(payload)
        try:
            result = rb.import_accepted(items, problems, actor=None, channel=f"api:{g.api_token.name}")
        except rb.AcceptedReadingsError as error:
            return self.response(422, message=error.message,
                                 errors=[{"item": number, "message": message} for number, message in error.problems])
        return self.response(200, created=result.created, updated=result.updated, unchanged=result.unchanged)
