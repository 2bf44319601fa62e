"""Regenerate the sample documents (示例，非真实文件) in this folder: a responsibility list (.xlsx) and a work report (.docx).

The internal rule (.md) is plain text and kept as is. Run: python knowledge/make_samples.py
Outputs are byte-stable (fixed zip and document timestamps), so re-running changes nothing unless the content changes.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIST_PATH = HERE / "示例-某单位全面从严治党主体责任清单.xlsx"
REPORT_PATH = HERE / "示例-2024年度落实全面从严治党主体责任情况报告.docx"
FIXED_TIME = (2024, 12, 1, 0, 0, 0)

LIST_TITLE = "某单位全面从严治党主体责任清单（示例）"
LIST_HEADER = ("序号", "责任主体", "责任内容", "具体措施", "完成时限")
# (责任主体, [(责任内容, 具体措施, 完成时限), ...]); the subject cell is merged over its rows, as in real lists.
LIST_ROWS = [
    (
        "党委（党组）",
        [
            ("把方向、管大局、保落实，对本单位全面从严治党负主体责任", "每年年初召开党委会研究部署全面从严治党工作，制定年度工作要点和任务分工，将责任分解到班子成员和各部门", "每年1月底前"),
            ("加强党的政治建设，严明政治纪律和政治规矩", "落实“第一议题”制度，及时传达学习习近平总书记重要讲话和重要指示批示精神，研究贯彻落实措施", "长期坚持"),
            ("专题研究党风廉政建设和反腐败工作", "每半年至少召开1次党委会专题研究党风廉政建设，分析形势，解决突出问题", "每年6月、12月"),
            ("落实中央八项规定精神，持续纠治“四风”", "制定作风建设年度工作方案，聚焦形式主义、官僚主义开展专项整治，在重要节点开展廉洁提醒和监督检查", "全年；重要节点前5个工作日内提醒"),
            ("支持纪委履行监督责任", "每年听取纪委工作汇报不少于2次，研究解决纪检工作中的困难和问题，保障纪检工作力量", "每年6月、12月"),
            ("加强廉洁文化建设和警示教育", "每年组织召开警示教育大会，开展以案说德、以案说纪、以案说法、以案说责", "每年第二季度"),
        ],
    ),
    (
        "党委书记（第一责任人）",
        [
            ("履行全面从严治党第一责任人职责", "重要工作亲自部署、重大问题亲自过问、重点环节亲自协调、重要案件亲自督办", "长期坚持"),
            ("带头讲廉政党课，抓好班子、带好队伍", "每年至少讲1次廉政党课；与班子成员、下级党组织书记开展谈心谈话，发现苗头性、倾向性问题及时提醒纠正", "每年至少1次；谈心谈话每半年1轮"),
            ("督促班子成员落实“一岗双责”", "定期听取班子成员履行“一岗双责”情况汇报，对履责不力的及时约谈", "每半年1次"),
            ("带头遵守廉洁自律规定", "严格执行领导干部个人有关事项报告制度，管好家属子女和身边工作人员", "长期坚持"),
        ],
    ),
    (
        "班子成员（一岗双责）",
        [
            ("对分管领域全面从严治党工作负领导责任", "将党风廉政建设与分管业务工作同部署、同落实、同检查、同考核", "全年"),
            ("抓好分管领域廉政风险防控", "每年组织分管部门排查廉政风险点，完善防控措施，督促整改发现的问题", "每年3月底前完成排查"),
            ("开展分管领域谈心谈话和监督提醒", "每半年至少与分管部门负责人开展1次廉政谈话，对苗头性问题早发现、早提醒、早纠正", "每半年1次"),
            ("报告履行“一岗双责”情况", "每年向党委书面报告履责情况，在民主生活会上作对照检查", "每年12月"),
        ],
    ),
    (
        "纪委",
        [
            ("履行监督责任，协助党委推进全面从严治党", "协助党委制定年度党风廉政建设工作计划，定期向党委报告监督工作情况", "每季度报告1次"),
            ("强化日常监督", "围绕“三重一大”决策、选人用人、工程项目、资金使用等重点领域开展监督检查", "全年；每半年形成1份监督报告"),
            ("精准运用监督执纪“四种形态”", "对问题线索及时分类处置，综合运用谈话提醒、批评教育、诫勉等方式，抓早抓小、防微杜渐", "按规定时限处置"),
            ("严肃查处违纪问题，做实以案促改", "依规依纪依法审查违纪问题，针对案件暴露的问题督促相关部门完善制度、堵塞漏洞", "按案件办理时限"),
        ],
    ),
]
LIST_NOTE = "注：本清单为示例，非真实文件，仅用于演示知识库对责任清单的检索与引用；实际使用时请以本单位正式印发的清单为准。"

REPORT_TITLE = "关于2024年度落实全面从严治党主体责任情况的报告（示例）"
# (style, text). Heading 1 = 一、; Heading 2 = （一）; "table" inserts the indicator table.
REPORT = [
    ("Normal", "（示例，非真实文件。本报告为演示知识库检索而编写，文中具体数字以【待补充】标示。）"),
    ("Normal", "上级党委："),
    ("Normal", "2024年，我单位党委坚持以习近平新时代中国特色社会主义思想为指导，认真贯彻落实全面从严治党战略部署，切实履行管党治党政治责任。现将有关情况报告如下。"),
    ("Heading 1", "一、履行主体责任的主要做法"),
    ("Heading 2", "（一）坚持政治引领，压实管党治党政治责任"),
    ("Normal", "党委始终把全面从严治党作为重大政治任务，年初召开党委会专题研究部署全年工作，制定年度全面从严治党工作要点和责任分工，明确重点任务【待补充】项。一是落实“第一议题”制度，全年党委会“第一议题”学习【待补充】次；二是层层签订党风廉政建设责任书【待补充】份，把责任压实到每个支部、每个岗位；三是党委书记认真履行第一责任人职责，带头讲廉政党课，与班子成员、支部书记开展谈心谈话【待补充】人次。"),
    ("Heading 2", "（二）聚焦“一岗双责”，推动责任层层落实"),
    ("Normal", "班子成员坚持党风廉政建设与业务工作同部署、同落实、同检查、同考核。一是结合分管领域排查廉政风险点【待补充】个，完善防控措施【待补充】项；二是定期听取分管部门党风廉政建设情况汇报，督促整改问题【待补充】个；三是年底向党委书面报告履行“一岗双责”情况，接受党员干部评议。"),
    ("Heading 2", "（三）驰而不息纠治“四风”，持续改进作风"),
    ("Normal", "严格落实中央八项规定及其实施细则精神。一是在元旦、春节、中秋、国庆等重要节点开展廉洁提醒和监督检查【待补充】次；二是聚焦形式主义、官僚主义，精简会议和文件，切实为基层减负；三是对发现的作风问题及时通报曝光、督促整改，形成有力震慑。"),
    ("Heading 2", "（四）支持纪委监督，强化日常监督和执纪问责"),
    ("Normal", "党委全年听取纪委工作汇报【待补充】次，支持纪委聚焦监督第一职责。纪委围绕“三重一大”决策、选人用人、资金使用等重点领域开展监督检查【待补充】次，运用监督执纪“四种形态”处理【待补充】人次，其中运用第一种形态【待补充】人次。主要工作完成情况见下表。"),
    ("table", ""),
    ("Heading 2", "（五）加强廉洁文化建设和警示教育"),
    ("Normal", "召开警示教育大会【待补充】次，组织党员干部观看警示教育片，开展以案促改专题学习，引导党员干部知敬畏、存戒惧、守底线。"),
    ("Heading 1", "二、存在的问题和不足"),
    ("Normal", "对照全面从严治党要求，我单位工作还存在一些差距。一是压力传导存在层层递减现象，个别支部对主体责任认识不够到位，存在以会议落实会议的情况；二是“一岗双责”落实不够平衡，个别班子成员对分管领域廉政风险点排查不够深入；三是日常监督的精准性和实效性有待提升，运用信息化手段开展监督不够。"),
    ("Heading 1", "三、下一步工作打算"),
    ("Heading 2", "（一）进一步压实主体责任"),
    ("Normal", "健全责任清单和任务清单，完善年度考核和责任追究机制，推动主体责任、第一责任人责任、“一岗双责”和监督责任贯通协同、一体落实。"),
    ("Heading 2", "（二）持之以恒正风肃纪"),
    ("Normal", "坚持严的基调不动摇，锲而不舍落实中央八项规定精神，坚决防止“四风”问题反弹回潮，对顶风违纪行为严肃处理。"),
    ("Heading 2", "（三）强化监督执纪问责"),
    ("Normal", "支持纪委履行监督责任，深化运用监督执纪“四种形态”，抓早抓小、防微杜渐，做实以案促改、以案促治。"),
    ("Heading 2", "（四）加强纪检干部队伍建设"),
    ("Normal", "加强纪检干部教育培训，以严的标准、严的措施建设忠诚干净担当、敢于善于斗争的纪检干部队伍。"),
    ("Normal", "特此报告。"),
    ("Normal", "中共××单位委员会（示例）"),
    ("Normal", "2024年12月【待补充】日"),
]
REPORT_TABLE = [
    ("序号", "工作项目", "完成情况", "备注"),
    ("1", "党委会专题研究党风廉政建设", "【待补充】次", "年度目标不少于2次"),
    ("2", "签订党风廉政建设责任书", "【待补充】份", "覆盖全部支部"),
    ("3", "开展监督检查", "【待补充】次", "含重要节点检查"),
    ("4", "运用“四种形态”处理", "【待补充】人次", "第一种形态占比【待补充】%"),
]


def make_list(path: Path = LIST_PATH) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    wb = Workbook()
    ws = wb.active
    ws.title = "主体责任清单"
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")
    ws.append([LIST_TITLE])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(LIST_HEADER))
    ws["A1"].font = Font(name="黑体", size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(list(LIST_HEADER))
    for cell in ws[2]:
        cell.font = Font(name="黑体", bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center")
        cell.border = box
    n = 0
    for subject, items in LIST_ROWS:
        first = ws.max_row + 1
        for content, measure, deadline in items:
            n += 1
            ws.append([n, subject if ws.max_row + 1 == first else None, content, measure, deadline])
            for cell in ws[ws.max_row]:
                cell.alignment = wrap
                cell.border = box
        ws.merge_cells(start_row=first, start_column=2, end_row=ws.max_row, end_column=2)
    ws.append([LIST_NOTE])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=len(LIST_HEADER))
    for col, width in zip("ABCDE", (6, 16, 34, 56, 20)):
        ws.column_dimensions[col].width = width
    wb.properties.title = LIST_TITLE
    wb.properties.creator = "示例"
    wb.save(path)
    _freeze(path)
    return path


def _set_east_asian_font(style, name: str) -> None:
    from docx.oxml.ns import qn

    style.font.name = name
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def make_report(path: Path = REPORT_PATH) -> Path:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    d = docx.Document()
    for style, font, size in (("Normal", "仿宋_GB2312", 16), ("Title", "方正小标宋简体", 22), ("Heading 1", "黑体", 16), ("Heading 2", "楷体_GB2312", 16)):
        _set_east_asian_font(d.styles[style], font)
        d.styles[style].font.size = Pt(size)
    t = d.add_paragraph(REPORT_TITLE, style="Title")
    t.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for style, text in REPORT:
        if style == "table":
            table = d.add_table(rows=0, cols=len(REPORT_TABLE[0]))
            table.style = "Table Grid"
            for row in REPORT_TABLE:
                cells = table.add_row().cells
                for cell, value in zip(cells, row):
                    cell.text = value
            continue
        p = d.add_paragraph(text, style=style)
        if style == "Normal" and not text.startswith(("上级", "中共", "2024年12月")):
            p.paragraph_format.first_line_indent = Pt(32)
        if text.startswith(("中共", "2024年12月")):
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    d.core_properties.title = REPORT_TITLE
    d.core_properties.author = "示例"
    d.save(path)
    _freeze(path)
    return path


def _freeze(path: Path) -> None:
    """Fixed timestamps inside and around the zip, so regenerating gives identical bytes."""
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                stamp = "{:04d}-{:02d}-{:02d}T00:00:00Z".format(*FIXED_TIME[:3])
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(fixed, data)


if __name__ == "__main__":
    for p in (make_list(), make_report()):
        print(p.relative_to(HERE.parent), p.stat().st_size, "bytes")
