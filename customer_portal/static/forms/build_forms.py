"""Builds the blank paper application [002] offered on the sign-in page: application.docx
(WordprocessingML written directly, no extra library) and application.pdf (the same text printed
by headless Chromium). Run once after editing the text:

    .venv/bin/python customer_portal/static/forms/build_forms.py
"""
from __future__ import annotations

import html
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TITLE = "ЗАЯВКА на регистрацию в личном кабинете абонента"
ADDRESSEE = "Директору филиала ____________________________________"
FIELDS = [
    "Название организации (полное наименование)",
    "ИНН",
    "КПП",
    "Номер договора (договоров)",
    "Лицевой счёт",
    "E-mail (для получения логина и ссылки на активацию личного кабинета) *",
    "Контактное лицо организации (Ф. И. О., должность)",
    "Телефон контактного лица",
]
NOTES = [
    "* Энергоснабжающая организация не несёт ответственности за передачу логина и пароля третьим лицам "
    "по вине абонента.",
    "Заявка подписывается руководителем организации или иным уполномоченным лицом и скрепляется печатью.",
    "Логином в личном кабинете будет ИНН. Ссылка для активации придёт на указанный e-mail и будет действовать "
    "со следующего дня в течение 5 дней; не активированная вовремя учётная запись блокируется.",
]
SIGNATURE = "Руководитель организации  ______________ / ____________________ /      М. П.      Дата ____________"


def _run(text: str, bold: bool = False, size: int = 22) -> str:
    props = f"<w:rPr>{'<w:b/>' if bold else ''}<w:sz w:val=\"{size}\"/></w:rPr>"
    return f'<w:r>{props}<w:t xml:space="preserve">{html.escape(text)}</w:t></w:r>'


def _para(text: str, *, bold=False, size=22, align=None, after=120) -> str:
    jc = f'<w:jc w:val="{align}"/>' if align else ""
    return f'<w:p><w:pPr>{jc}<w:spacing w:after="{after}"/></w:pPr>{_run(text, bold, size)}</w:p>'


def _cell(text: str, width: int, bold=False) -> str:
    return (f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>'
            f'<w:p><w:pPr><w:spacing w:before="160" w:after="160"/></w:pPr>{_run(text, bold)}</w:p></w:tc>')


def build_docx(path: Path) -> None:
    border = "".join(f'<w:{side} w:val="single" w:sz="6" w:space="0" w:color="000000"/>'
                     for side in ("top", "left", "bottom", "right", "insideH", "insideV"))
    rows = "".join(f"<w:tr>{_cell(label, 4200, True)}{_cell('', 5400)}</w:tr>" for label in FIELDS)
    table = (f'<w:tbl><w:tblPr><w:tblW w:w="9600" w:type="dxa"/><w:tblBorders>{border}</w:tblBorders></w:tblPr>'
             f'<w:tblGrid><w:gridCol w:w="4200"/><w:gridCol w:w="5400"/></w:tblGrid>{rows}</w:tbl>')
    body = (_para(ADDRESSEE, align="right", after=360) + _para(TITLE, bold=True, size=28, align="center", after=360)
            + _para("Данные организации:", bold=True) + table + _para("", after=240)
            + "".join(_para(note, size=18) for note in NOTES) + _para("", after=480) + _para(SIGNATURE))
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f'<w:body>{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/>'
                '<w:pgMar w:top="1134" w:right="850" w:bottom="1134" w:left="1418" w:header="708" w:footer="708"'
                ' w:gutter="0"/></w:sectPr></w:body></w:document>')
    content_types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/'
                     'vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/word/document.xml" ContentType="application/'
                     'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("word/document.xml", document)


def build_html() -> str:
    rows = "".join(f"<tr><th>{html.escape(label)}</th><td></td></tr>" for label in FIELDS)
    notes = "".join(f"<p class='note'>{html.escape(note)}</p>" for note in NOTES)
    return f"""<!doctype html><html lang="ru"><head><meta charset="utf-8"><style>
      body {{ font-family: 'DejaVu Serif', 'Times New Roman', serif; font-size: 12pt; margin: 0; }}
      .to {{ text-align: right; margin-bottom: 24pt; }} h1 {{ font-size: 15pt; text-align: center; margin: 0 0 18pt; }}
      table {{ width: 100%; border-collapse: collapse; }} th, td {{ border: 1px solid #000; padding: 10pt 8pt; }}
      th {{ width: 45%; text-align: left; }} .note {{ font-size: 9.5pt; margin: 4pt 0; }}
      .sign {{ margin-top: 40pt; }}</style></head><body>
      <p class="to">{html.escape(ADDRESSEE)}</p><h1>{html.escape(TITLE)}</h1>
      <p><b>Данные организации:</b></p><table>{rows}</table><div style="height:12pt"></div>{notes}
      <p class="sign">{html.escape(SIGNATURE)}</p></body></html>"""


def build_pdf(path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.set_content(build_html())
        page.pdf(path=str(path), format="A4", margin={"top": "20mm", "bottom": "20mm", "left": "25mm",
                                                       "right": "15mm"})
        browser.close()


if __name__ == "__main__":
    build_docx(HERE / "application.docx")
    build_pdf(HERE / "application.pdf")
    print("written", HERE / "application.docx", HERE / "application.pdf")
