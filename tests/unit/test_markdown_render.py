"""Staff Markdown reaches customers as safe HTML (issue 7 acceptance 1): what an attacker (or a careless
paste) could put in a notification, news item or help page is neutralised; ordinary Markdown is kept."""
from __future__ import annotations

import pytest
from markupsafe import Markup

from crm.services.markdown_render import plain_text, render_markdown


def test_script_tag_and_its_code_are_removed_when_embedded_in_markdown():
    html = render_markdown("Плановое отключение <script>alert(document.cookie)</script>завтра")
    assert "<script" not in html
    assert "alert" not in html
    assert "Плановое отключение" in html and "завтра" in html


@pytest.mark.parametrize("link", ["[Оплатить](javascript:alert(1))", "[Оплатить](JaVaScRiPt:alert(1))",
                                  '<a href="&#106;avascript:alert(1)">Оплатить</a>',
                                  "[Оплатить](data:text/html;base64,PHNjcmlwdD4=)",
                                  "[Оплатить](vbscript:msgbox(1))"])
def test_dangerous_link_loses_its_href_when_the_scheme_is_not_allowed(link):
    html = str(render_markdown(link))
    assert "Оплатить" in html
    assert "href" not in html
    assert "javascript" not in html.lower() and "data:" not in html and "vbscript" not in html


@pytest.mark.parametrize("snippet", ['<img src="x.png" onerror="alert(1)">', '<p onclick="steal()">Текст</p>',
                                     '<a href="https://example.org" onmouseover="alert(1)">ссылка</a>',
                                     '<svg onload="alert(1)"></svg>'])
def test_inline_event_handlers_are_dropped_when_present_in_html(snippet):
    html = str(render_markdown(snippet))
    assert "onerror" not in html and "onclick" not in html and "onmouseover" not in html
    assert "onload" not in html and "alert" not in html and "steal" not in html


def test_iframe_and_its_content_are_removed_when_embedded():
    html = str(render_markdown('До <iframe src="https://evil.example/">внутри</iframe> после'))
    assert "iframe" not in html and "evil" not in html and "внутри" not in html
    assert "До" in html and "после" in html


def test_style_attribute_and_style_element_are_removed_when_present():
    html = str(render_markdown('<p style="position:fixed;top:0">Баннер</p><style>body{display:none}</style>'))
    assert "style" not in html and "display" not in html and "position" not in html
    assert "Баннер" in html


def test_ordinary_markdown_is_kept_when_rendered():
    html = str(render_markdown("# Отключение\n\n**Важно:** с 10:00 до 14:00\n\n- ул. Ленина\n- ул. Мира\n\n"
                               "[Подробнее](https://energo.example/outages) · [Вопрос](mailto:help@energo.example) · "
                               "[Показания](/portal/contracts)\n\n| Дом | Время |\n|---|---|\n| 5 | 10:00 |"))
    assert "<h1>Отключение</h1>" in html
    assert "<strong>Важно:</strong>" in html
    assert "<li>ул. Ленина</li>" in html
    assert '<a href="https://energo.example/outages" rel="noopener noreferrer">Подробнее</a>' in html
    assert 'href="mailto:help@energo.example"' in html
    assert 'href="/portal/contracts"' in html
    assert "<table>" in html and "<td>10:00</td>" in html


def test_result_is_markup_and_empty_when_there_is_no_text():
    assert isinstance(render_markdown("текст"), Markup)
    assert render_markdown("") == Markup("") and render_markdown(None) == Markup("")


def test_plain_text_has_no_tags_and_no_script_when_made_for_an_email():
    text = plain_text("**Счёт** выставлен <script>alert(1)</script> [оплатить](https://pay.example)")
    assert "<" not in text and "alert" not in text
    assert "Счёт выставлен" in text and "оплатить" in text
