"""Japanese words for the codes a consultation record holds: the person's role,
the category, the answer about contacting the school, the language, the
severity, the signs crisis triage saw and how the consultation ended.

The monthly report, the CSV export (bot.records) and the console's pages and
JSON API (bot.console.labels, which takes these from here) all show the same
words, so they are defined once, here, with the records: bot.records does not
import the console.
"""

from __future__ import annotations

ROLE_LABELS: dict[str, str] = {
    "child": "児童生徒",
    "guardian": "保護者",
    "teacher": "教職員",
    "unknown": "不明",
}

#: The chart's branches (dialogs.directory.BRANCHES), triage's crisis
#: categories and the handoff's own ("human", "other").
CATEGORY_LABELS: dict[str, str] = {
    "self_harm": "自殺・自傷のおそれ",
    "threat": "命や身体への脅し",
    "extortion": "脅迫・性的画像の脅し",
    "grooming": "誘い出し・グルーミングのおそれ",
    "abuse": "家庭での虐待のおそれ",
    "violence_by_writer": "本人による加害・予告のおそれ",
    "crisis": "緊急",
    "talk": "悩みを話したい",
    "expert": "専門家に相談したい",
    "delete": "書き込み・画像の削除",
    "damages": "損害賠償",
    "danger": "身の危険・脅迫",
    "report": "違法・有害情報の通報",
    "mail": "いやがらせメール",
    "bill": "身に覚えのない請求",
    "security": "ウイルス・不正アクセス",
    "human": "相談員と話したい",
    "other": "その他",
}

#: The record's answer to "may the school be contacted?" (取扱要領 I-1 (7)).
SCHOOL_CONTACT_LABELS: dict[str, str] = {
    "yes": "了解を得た",
    "no": "了解は得られなかった",
    "not_asked": "確認していない",
}

LANG_LABELS: dict[str, str] = {"ja": "日本語", "ja_easy": "やさしい日本語", "en": "英語"}

SEVERITY_LABELS: dict[str | None, str] = {
    "critical": "最重要（命の危険）",
    "high": "緊急",
    "medium": "要注意",
    None: "通常",
}

#: Why a consultation record ended (Record.ended_by).
ENDED_LABELS: dict[str, str] = {
    "closed": "相談員が終了",
    "returned": "ボットに戻した",
    "expired": "長く動きがなくボットに戻した",
    "unfollow": "ブロック・友だち解除",
    "idle": "6時間やりとりなし",
}

#: The kinds of danger a reason code starts with (the lexicon's categories, the
#: classifier's, and "modifier" for what makes a danger more pressing).
REASON_KINDS: dict[str, str] = {
    "self_harm": "自殺・自傷", "suicide": "自殺・自傷", "threat": "脅し・危害の予告",
    "extortion": "恐喝・画像の拡散の脅し", "sexual_images": "性的な画像", "grooming": "誘い出し（グルーミング）",
    "abuse": "家庭での虐待", "violence_by_writer": "本人が暴力をふるうおそれ", "modifier": "危険を強める手がかり",
}

#: What crisis triage saw, in words a counsellor reads at a glance (the code stays
#: beside it in the JSON and the CSV). A code missing here is shown by its kind.
REASON_LABELS: dict[str, str] = {
    "self_harm.wish_to_die": "死にたいという言葉", "self_harm.suicide_verb": "自殺するという言葉",
    "self_harm.wish_to_die_en": "死にたいという言葉（英語）", "self_harm.third_party_en": "ほかの人が死のうとしている（英語）",
    "self_harm.passive_wish_en": "消えたい・いなくなりたい（英語）", "self_harm.passive_wish": "消えたい・いなくなりたい",
    "self_harm.suicide_mention": "自殺の話題", "self_harm.disappear": "消えたいという言葉",
    "self_harm.farewell": "別れのことば", "self_harm.farewell_distress": "つらさと別れのことば",
    "self_harm.farewell_thanks": "これまでのお礼・別れのことば", "self_harm.jump_place": "高い場所にいる",
    "self_harm.farewell_en": "別れのことば（英語）", "self_harm.place_now": "危ない場所に今いる",
    "self_harm.friend_farewell": "友だちが別れを告げている", "self_harm.bare_die": "「死ぬ」という言葉",
    "self_harm.act": "自傷の行為", "self_harm.cutting": "自傷の行為", "self_harm.marks": "自傷のあと",
    "self_harm.overdose": "自傷の行為", "self_harm.jump": "自殺の手段の言葉", "self_harm.fall": "自殺の手段の言葉",
    "self_harm.train": "自殺の手段の言葉", "self_harm.hanging": "自殺の手段の言葉", "self_harm.method": "自殺の手段の言葉",
    "self_harm.farewell_place": "別れのことばと場所", "self_harm.will": "遺書",
    "threat.kill": "殺すという脅し", "threat.killed_passive": "殺されるという訴え", "threat.kill_en": "殺すという脅し（英語）",
    "threat.stab": "刺すという脅し", "threat.weapon": "凶器", "threat.visit": "家や学校に来るという脅し",
    "threat.location_en": "居場所を知っているという脅し（英語）", "threat.conditional": "「〜しないと」という脅し",
    "threat.address_known": "住所を知られている", "threat.vague": "危害をほのめかす脅し",
    "threat.watching": "見張られている", "threat.retaliation": "仕返しの脅し", "threat.ongoing_violence": "今、暴力を受けている",
    "threat.at_door": "相手が近くに来ている", "threat.stalking": "つきまとい", "threat.arson": "放火の予告",
    "threat.ambush": "待ち伏せ", "threat.address": "住所をさらすという脅し", "threat.address_visit": "住所を知って来るという脅し",
    "threat.violence": "暴力の予告", "threat.intimidated": "おどされている",
    "extortion.spread_threat": "ばらまくという脅し", "extortion.more_or_spread": "もっと送らないとばらまくという脅し",
    "extortion.show_unless": "見せるという脅し", "extortion.pay_in_images": "画像で払えという要求",
    "extortion.money_demand": "お金の要求", "extortion.demand_or_else": "要求と脅し",
    "extortion.paid_under_threat": "脅されて払った", "extortion.spread_threat_en": "ばらまくという脅し（英語）",
    "extortion.conditional": "「〜しないと」という脅し", "extortion.sexual_image": "性的な画像",
    "extortion.sexual_request": "性的な画像の要求", "extortion.nudes_en": "性的な画像（英語）",
    "extortion.sextortion": "性的な画像での脅し（セクストーション）", "extortion.account_ransom": "アカウントを返す代わりの要求",
    "modifier.time": "時刻・日時が決まっている", "modifier.place": "場所が決まっている", "modifier.plan": "計画がある",
    "modifier.medical": "けが・体の不調", "modifier.farewell": "別れのことば", "modifier.weapon": "凶器",
    "modifier.more_under_threat": "脅されて要求が続いている", "modifier.video_call": "ビデオ通話",
    "modifier.address_known": "住所を知られている", "modifier.sexual_under_threat": "脅されて性的な画像",
}


def reason_label(code: str) -> str:
    """「自殺・自傷：死にたいという言葉」: the kind, then what was seen. The classifier's
    own reason (``<kind>.nlu``) reads as the whole message, not a word in it."""
    kind = REASON_KINDS.get(code.split(".", 1)[0].split(":", 1)[0])
    if code.endswith(".nlu"):
        what = "文章全体からの判断（学習モデル）"
    else:
        what = REASON_LABELS.get(code, "")
    if kind is None:
        return what or code
    return f"{kind}：{what}" if what else kind
