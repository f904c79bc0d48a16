"""The Chinese phrase bank behind the demo comments.

Comments are short, informal fan remarks: an optional opener, one core phrase
about an aspect of the purchase (quality, logistics, price, service,
authenticity, packaging, effect, live room), a closer and an emoticon. The
phrases are written for fanlib; they are kept clearly positive, neutral or
negative so that a reasonable sentiment model scores them right.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanlib.demo.config import ASPECT_P, SECOND_ASPECT_P, SENTIMENTS

#: Aspect code -> the Chinese topic words an analyst would search for.
ASPECTS = {
    "quality": "质量",
    "logistics": "物流/快递",
    "price": "价格",
    "service": "客服",
    "authenticity": "正品/假货",
    "packaging": "包装",
    "effect": "效果",
    "live": "直播",
}

POSITIVE = {
    "quality": [
        "质量真的很好，没话说",
        "做工很扎实很精致",
        "质量非常好，超出预期",
        "用料很足，质感高级",
        "质量好到想囤货，很喜欢",
    ],
    "logistics": ["物流超快，隔天就到了", "快递小哥很给力，速度很快", "发货速度好快", "物流很快，第二天就收到了，满意"],
    "price": ["价格很实惠", "性价比超级高", "这个价格真的很值，很划算", "活动价特别划算，赚到了"],
    "service": [
        "客服小姐姐很耐心，很满意",
        "客服服务很周到，很满意",
        "售后处理得又快又好，很满意",
        "客服态度特别好，很贴心",
    ],
    "authenticity": ["官方旗舰店买的正品，很放心", "专柜验过是正品，很放心", "防伪码查过了是正品，很好"],
    "packaging": ["包装很精致很用心", "包装很严实，很完好，很满意", "包装好看，送人很有面子"],
    "effect": ["用了一周皮肤明显变好了", "效果很明显，喜欢", "味道很好闻，很舒服", "上脸很温和，很喜欢"],
    "live": ["主播讲解得很清楚很专业", "直播间福利真多，开心", "跟着主播买准没错，好喜欢"],
}

NEGATIVE = {
    "quality": ["质量太差了", "用了两天就坏了", "做工粗糙得离谱", "实物和图片完全不一样，很差"],
    "logistics": ["物流慢死了", "快递一周了还没到，太差劲", "发货拖拖拉拉太慢了", "快递把盒子压烂了，生气"],
    "price": ["太贵了根本不值", "刚买就降价，很坑", "价格虚高，被坑了", "比别家贵一大截，亏了"],
    "service": ["客服半天不回消息", "客服态度恶劣", "退款拖了半个月还没退，很烦", "售后互相踢皮球，气死了"],
    "authenticity": ["怀疑买到假货了", "跟专柜的差别很大，像假货，很失望", "防伪码查不到，怕是假的"],
    "packaging": ["包装太简陋了，很差", "收到包装破了，很失望", "到手就漏液了，糟糕"],
    "effect": ["用了一个月一点效果都没有，浪费钱", "味道刺鼻难闻", "用完脸又干又紧，很难受"],
    "live": ["直播间说的和实物不符，骗人", "主播一直催单，好烦", "直播间抢的东西有问题，很失望"],
}

NEUTRAL = {
    "quality": ["质量中规中矩吧", "质量和上次买的差不多"],
    "logistics": ["请问发什么快递", "几天能发货呀", "收到了还没拆"],
    "price": ["这个价格和上次一样", "下次活动是什么时候"],
    "service": ["请问怎么联系客服", "已经留言给客服了"],
    "authenticity": ["请问是旗舰店发货吗", "有防伪码吗"],
    "packaging": ["请问有礼盒装吗", "包装换新的了吗"],
    "effect": ["这个适合油皮用吗", "还没用，用了再来说", "请问敏感肌能用吗"],
    "live": ["今晚几点开播", "直播回放在哪里看", "链接在哪里呀"],
}

#: The planted crisis: an allergy complaint about one product (keyword 过敏).
CRISIS_KEYWORD = "过敏"
CRISIS = [
    "用了这款面霜脸上过敏了，又红又痒",
    "过敏了，起了一脸红疹子",
    "敷完就过敏，客服还不管",
    "我也过敏了，是不是成分有问题",
    "千万别买，过敏特别严重",
    "孩子用了过敏，太吓人了",
    "过敏去了医院，必须退款",
    "同款过敏加一，这批货有问题",
    "一用就过敏刺痛，黑心产品",
]

OPENERS = {
    "positive": ["", "", "姐妹们，", "家人们，", "回购了，", "刚到手，"],
    "neutral": ["", "", "", "想问下，", "姐妹们，", "小白求问，"],
    "negative": ["", "", "无语，", "真的服了，", "吐槽一下，", "说实话，"],
}

CLOSERS = {
    "positive": ["，很满意，还会回购", "，推荐！", "，很喜欢", "，好评，值得推荐", "！", "，非常好", "，太满意了"],
    "neutral": ["", "？", "～", "。"],
    "negative": ["，不会再买了", "，差评", "，太失望了", "！！", "，已退货", "，大家避雷", "，再也不来了"],
}

EMOTICONS = {
    "positive": ["[赞]", "[哈哈]", "[爱心]", "[鼓掌]", "😍", "👍", "❤️", "🥰"],
    "neutral": ["", "[思考]", "🤔", "[疑问]", "[doge]"],
    "negative": ["[怒]", "[流泪]", "[衰]", "😡", "😤", "👎", "[抓狂]", "💔"],
}

#: Personal details planted in a few comments, to be masked by reports.
PII_TEMPLATES = {
    "phone": ["有问题打我电话{v}", "手机{v}，到了联系我", "电话 {v} 麻烦尽快发货"],
    "wechat": ["加我微信 {v} 拼单", "vx: {v} 私聊", "有链接吗 我的微信号{v}"],
    "email": ["发票发我邮箱 {v}", "资料发{v}谢谢"],
    "id_number": ["身份证号{v}，帮我查下订单", "报关要身份证 {v}"],
}

WECHAT_NAMES = ["lily", "xiaomei", "coco", "tina", "momo", "sunny", "kiki", "amy", "dudu", "yoyo"]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com"]


def bank(sentiment: str) -> dict[str, list[str]]:
    """The core phrases of one sentiment, by aspect."""
    return {"positive": POSITIVE, "neutral": NEUTRAL, "negative": NEGATIVE}[sentiment]


#: During the crisis a few fans call on others to join a complaint and leave a phone number, written
#: loosely as fans do to get past platform filters. Masked, the calls read alike, so the call is among
#: the most repeated negative comments a report shows: the masking is seen at work.
CRISIS_PII_SHARE, CRISIS_PII_MIN = 0.06, 5
CRISIS_PII_TEMPLATE = "过敏了太坑了，过敏的姐妹打我电话{v}，一起找品牌维权"
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def loose_phone(digits: str, style: int) -> str:
    """An 11-digit mobile number as fans write it: whole, with full-width dashes, dots, spaces, or full-width."""
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return [digits, f"{a}－{b}－{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", digits.translate(_FULL_WIDTH)][style % 5]


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


class _TextBank:
    """Flat phrase arrays with per-(sentiment, aspect) offsets, for vectorized text assembly."""

    def __init__(self):
        self.aspects = tuple(ASPECT_P)
        self.aspect_p = np.array(list(ASPECT_P.values()))
        cores, offs, lens = [], np.zeros((3, len(self.aspects)), int), np.zeros((3, len(self.aspects)), int)
        for s, sent in enumerate(SENTIMENTS):
            for a, asp in enumerate(self.aspects):
                phrases = bank(sent)[asp]
                offs[s, a], lens[s, a] = len(cores), len(phrases)
                cores += phrases
        self.crisis_off, self.crisis_len = len(cores), len(CRISIS)
        cores += CRISIS
        self.cores, self.core_off, self.core_len = pa.array(cores), offs, lens
        self.parts = {}
        for name, src in (("open", OPENERS), ("close", CLOSERS), ("emo", EMOTICONS)):
            flat, o, ln = [], [], []
            for sent in SENTIMENTS:
                o.append(len(flat))
                ln.append(len(src[sent]))
                flat += src[sent]
            self.parts[name] = (pa.array(flat), np.array(o), np.array(ln))

    def texts(self, rng, sentiment: np.ndarray, aspect: np.ndarray, crisis: bool = False) -> pa.Array:
        n = sentiment.size

        def pick(off, ln):
            return off + np.floor(rng.random(n) * ln).astype(np.int64)

        if crisis:
            core = pc.take(self.cores, pick(self.crisis_off, self.crisis_len))
        else:
            core = pc.take(self.cores, pick(self.core_off[sentiment, aspect], self.core_len[sentiment, aspect]))
            # a third of the comments add a remark on a second aspect, in the same mood
            other = (aspect + rng.integers(1, len(self.aspects), n)) % len(self.aspects)
            second = pc.take(self.cores, pick(self.core_off[sentiment, other], self.core_len[sentiment, other]))
            both = pa.array(rng.random(n) < SECOND_ASPECT_P)
            core = pc.if_else(both, pc.binary_join_element_wise(core, second, "，"), core)
        pieces = []
        for name in ("open", "close", "emo"):
            arr, off, ln = self.parts[name]
            pieces.append(pc.take(arr, pick(off[sentiment], ln[sentiment])))
        return pc.binary_join_element_wise(pieces[0], core, pieces[1], pieces[2], "")


def _pii_value(rng, kind: str) -> str:
    if kind == "phone":
        return "1" + str(rng.integers(3, 10)) + "".join(map(str, rng.integers(0, 10, 9)))
    if kind == "wechat":
        name = WECHAT_NAMES[rng.integers(len(WECHAT_NAMES))]
        if rng.random() < 0.3:
            return "wxid_" + "".join(rng.choice(list("abcdefghijkmnpqrstuvwxyz0123456789"), 12))
        return f"{name}_{rng.integers(100, 10000)}"
    if kind == "email":
        name = WECHAT_NAMES[rng.integers(len(WECHAT_NAMES))]
        return f"{name}{rng.integers(1980, 2010)}@{EMAIL_DOMAINS[rng.integers(len(EMAIL_DOMAINS))]}"
    # 18-digit resident ID: region, birth date, sequence, ISO 7064 MOD 11-2 check digit
    region = str(rng.choice([110101, 310104, 440305, 330106, 320102, 510107, 420106]))
    birth = f"{rng.integers(1970, 2005)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body = region + birth + f"{rng.integers(0, 1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check
