"""Composing posts: render a template, then fit the text to the platform by its own counting.

An item post is its hook (flags and headline), the summary's sentences that do not repeat the
headline, one line of the AMW Read with its ratings, the link and the hashtags. When it is too
long, what goes is, in this order: the summary (shortened at a word, then dropped), the ratings,
the read (likewise), the hashtags other than the company's, and only then the headline, at a
word. The company's tag (the most specific) stays on every platform but Threads, which gets its
one topic tag. Whole words, tags and URLs are the units that go, so nothing is ever cut inside a
grapheme, a URL, a hashtag or a flag, and the link stays.

Speed: a template is rendered a handful of times per post, not once per candidate. The first
candidate is where an estimate says the cut falls; exact counts then walk from there (the
estimate is only a starting point, every text returned was counted exactly).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jinja2
import regex

from digest.models import Digest, Entry
from digest.render.links import AS_WRITTEN, LinkWriter, item_link
from digest.render.marks import camel_hashtag, country_flag, item_flags, unique_hashtags
from digest.render.social.anatomy import ratings, read_line, sentences, summary_sentences
from digest.render.social.bluesky import MAX_TAG_GRAPHEMES
from digest.render.social.counting import Platform, grapheme_count, graphemes
from digest.render.social.language import language_of
from digest.render.social.post import SocialPost

ELLIPSIS = "…"
_TAG = regex.compile(r"\p{L}[\p{L}\p{M}\p{Nd}]*")
# A word after which a glued ellipsis would change what it is: a URL, a domain, a tag, a mention.
_NO_GLUE = regex.compile(r"://|^[#@]|\.\p{L}")
_TRAILING = ".,;:!?-–—"
_DOMAIN_LIKE = regex.compile(r"\.[A-Za-z]|:/")


TopicTags = tuple[tuple[str, str], ...]  # (topic name, the hashtag an input declared for it)


@dataclass(frozen=True, slots=True)
class PostOptions:
    """What a deployment adds to a channel's posts: the topics' declared hashtags, and what its
    links become (the campaign's utm_ parameters, the tracked redirect)."""

    topic_tags: TopicTags = ()
    links: LinkWriter = AS_WRITTEN

    @classmethod
    def with_topics(
        cls, topics: Mapping[str, str | None], links: LinkWriter = AS_WRITTEN
    ) -> PostOptions:
        """From a topic list such as `TopicSettings.controlled(store.topics())`."""
        declared = tuple(sorted((name, tag) for name, tag in topics.items() if tag))
        return cls(topic_tags=declared, links=links)


def _topic_tag(topic: str, declared: Mapping[str, str]) -> str | None:
    """The hashtag a topic declares, else one made from its name; of "Foundation Models · Case
    Studies" (a part of a topic) only the topic's own name: #FoundationModels."""
    return camel_hashtag(declared.get(topic) or topic.split("\N{MIDDLE DOT}")[0])


def _topic_tags(entry: Entry, topic_tags: TopicTags) -> list[str]:
    declared = dict(topic_tags)
    return [tag for tag in (_topic_tag(topic, declared) for topic in entry.item.topics) if tag]


@functools.lru_cache(maxsize=4096)  # asked once per platform for the same entry
def entry_hashtags(entry: Entry, topic_tags: TopicTags = ()) -> tuple[str, ...]:
    """Most specific first: the companies', the item's own, then its topics' (the hashtag a
    topic declares, else one made from its name). Letters, marks and digits, never starting
    with a digit, so the same tag works on every platform."""
    tags = unique_hashtags(
        [
            *(company.hashtag for company in entry.companies),
            *entry.item.hashtags,
            *_topic_tags(entry, topic_tags),
        ]
    )
    normalised = (unicodedata.normalize("NFC", tag) for tag in tags)
    return tuple(tag for tag in normalised if _TAG.fullmatch(tag))


def _platform_tags(platform: Platform, tags: Sequence[str]) -> list[str]:
    chosen = [tag for tag in tags if platform.name != "bluesky" or len(tag) <= MAX_TAG_GRAPHEMES]
    if platform.max_hashtags is not None:
        chosen = chosen[: platform.max_hashtags]
    return chosen


def _item_tags(platform: Platform, entry: Entry, options: PostOptions) -> tuple[list[str], int]:
    """The item's tags for `platform`, and how many of the first ones must stay: the company's
    tag, or (Threads: one topic tag) the main topic's."""
    tags = entry_hashtags(entry, options.topic_tags)
    if platform.topic_tag_only:
        topical = [tag for tag in _topic_tags(entry, options.topic_tags) if _TAG.fullmatch(tag)]
        return (topical or list(tags))[:1], 0
    chosen = _platform_tags(platform, tags)
    company = camel_hashtag(entry.companies[0].hashtag) if entry.companies else None
    keeps_company = bool(chosen and company and chosen[0].casefold() == company.casefold())
    return chosen, 1 if keeps_company else 0


def _cut(words: Sequence[str], count: int) -> str:
    """The first `count` words, with an ellipsis when some were left out."""
    if count >= len(words):
        return " ".join(words)
    if count == 0:
        return ""
    kept = " ".join(words[:count])
    if _NO_GLUE.search(words[count - 1]):
        return f"{kept} {ELLIPSIS}"
    # "France.…" reads badly: a cut sentence loses its own closing punctuation.
    return (kept.rstrip(_TRAILING) or kept) + ELLIPSIS


def _estimate_weight(platform: Platform, unit: str) -> int:
    return len(unit) if unit.isascii() else platform.length(unit)


def _estimate_is_exact(platform: Platform, units: Sequence[str]) -> bool:
    """Whether `_estimate_weight` is the platform's own count for every unit: ASCII with nothing
    like a domain in it (no URL) on a platform that sends text as written."""
    return platform.counts_ascii_as_written and all(
        unit.isascii() and not _DOMAIN_LIKE.search(unit) for unit in units
    )


def longest_fitting(
    platform: Platform,
    units: Sequence[str],
    make: Callable[[int], str],
    *,
    budget: int | None = None,
    separator: int = 1,
) -> tuple[int, str] | None:
    """The most leading `units` whose text `make(count)` fits, with that text; None if not even
    `make(0)` fits. `budget` (what the units may take, estimated) picks the first count tried;
    exact checks then gallop from it (upwards only when the estimate may have been cautious)."""
    made: dict[int, str] = {}

    def text_of(count: int) -> str:
        if count not in made:
            made[count] = make(count)
        return made[count]

    count = len(units)
    exact = False
    if budget is not None:
        used, count = -separator, 0  # the first unit has no separator before it
        for unit in units:
            used += _estimate_weight(platform, unit) + separator
            if used > budget:
                break
            count += 1
        exact = _estimate_is_exact(platform, units)
    text = text_of(count)
    if platform.fits(text):
        # Grow while the next one still fits (the estimate may have been cautious).
        step = 1
        while count < len(units) and not exact:
            candidate = min(len(units), count + step)
            longer = text_of(candidate)
            if not platform.fits(longer):
                if step == 1:
                    break
                step = 1
                continue
            count, text, step = candidate, longer, step * 2
        return count, text
    # Shrink: gallop down to a count that fits, then search the gap exactly.
    high, step = count, 1  # `high` does not fit
    low = None
    while low is None:
        if high == 0:
            return None
        candidate = max(0, high - step)
        if platform.fits(text_of(candidate)):
            low = candidate
        else:
            high, step = candidate, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        if platform.fits(text_of(middle)):
            low = middle
        else:
            high = middle
    return low, text_of(low)


class ItemParts(NamedTuple):
    """What an item post is made of; fitting shortens or empties them, one after another."""

    title: str
    summary: str
    read: str
    ratings: str
    tags: tuple[str, ...]


# Fewer words than this of a read say nothing: it goes whole instead.
MIN_WORDS = 5
_SENTENCE_WORD_END = regex.compile(r"[.!?。！？]$")
_CLAUSE_WORD_END = regex.compile(r"[,;:—–、，；：]$")
# More than a part's paragraph adds around its text in any sensible template (the default's
# "The AMW Read: " label and its line breaks).
_PARAGRAPH_SLACK = 24


def _tidy_cut(words: Sequence[str], count: int) -> str:
    """`_cut`, but ending at the last whole sentence when one fits, and nothing at all when
    only a few words would be left."""
    if count >= len(words):
        return " ".join(words)
    ends = [n for n in range(1, count + 1) if _SENTENCE_WORD_END.search(words[n - 1])]
    if ends:
        return " ".join(words[: ends[-1]])
    # Else at the end of a clause ("… the hyperscalers: 1.2 billion…" says less than "… the
    # hyperscalers…"), when that keeps enough words.
    clauses = [n for n in range(MIN_WORDS, count + 1) if _CLAUSE_WORD_END.search(words[n - 1])]
    if clauses:
        return " ".join(words[: clauses[-1]]).rstrip(_TRAILING + "—–、，；：") + ELLIPSIS
    return _cut(words, count) if count >= MIN_WORDS else ""


def fit_item(
    platform: Platform, render: Callable[[ItemParts], str], parts: ItemParts, *, keep: int
) -> tuple[str, tuple[str, ...]]:
    """Fit an item post: `render(parts)` with the summary, the ratings, the read, the tags
    after the first `keep`, then the headline given up in that order until it fits."""
    rendered: dict[ItemParts, str] = {}

    def text_of(chosen: ItemParts) -> str:
        if chosen not in rendered:
            rendered[chosen] = render(chosen)
        return rendered[chosen]

    def over(state: ItemParts) -> int:
        """How much too long the post is; 1 when its length is within the limit but another
        of the platform's rules (Threads' links, Bluesky's bytes) is broken."""
        text = text_of(state)
        excess = platform.length(text) - platform.max_length
        return 1 if excess <= 0 and not platform.fits(text) else excess

    def shorten(state: ItemParts, field: str, excess: int) -> tuple[ItemParts, bool]:
        """The state with `field` cut to what fits (True), or emptied (False) when even
        without it the post is too long. The summary goes by whole sentences (a cut one
        before the read reads badly), the read by words."""
        emptied = state._replace(**{field: ""})
        if field == "summary":
            units = sentences(state.summary)
            cut: Callable[[int], str] = lambda n: " ".join(units[:n])  # noqa: E731
        else:
            units = state.read.split()
            cut = functools.partial(_cut, units)
        budget = platform.length(getattr(state, field)) - excess - platform.length(ELLIPSIS)
        fitted = longest_fitting(
            platform,
            units,
            lambda n: text_of(state._replace(**{field: cut(n)})),
            budget=budget,
        )
        if fitted is None:
            return emptied, False
        kept = cut(fitted[0]) if field == "summary" else _tidy_cut(units, fitted[0])
        return state._replace(**{field: kept}), True

    state = parts
    excess = over(state)
    if excess <= 0:
        return text_of(state), state.tags
    exact = True  # else `excess` is a lower bound: parts went without a render
    for field in ("summary", "ratings", "read"):
        value = getattr(state, field)
        if not value:
            continue
        # What giving the part up saves at most: its text and what its paragraph adds around
        # it. An excess beyond that is never made up by this part: it goes without a render.
        saves = platform.length(value) + _PARAGRAPH_SLACK
        if excess > saves:
            state, excess, exact = state._replace(**{field: ""}), excess - saves, False
            continue
        if not exact:
            excess, exact = over(state), True
            if excess <= 0:
                return text_of(state), state.tags
            if excess > saves:
                state, excess, exact = state._replace(**{field: ""}), excess - saves, False
                continue
        if field == "ratings":
            state = state._replace(ratings="")
            done = platform.fits(text_of(state))
        else:
            state, done = shorten(state, field, excess)
        if done:
            return text_of(state), state.tags
        excess = over(state)
    kept, extra = state.tags[:keep], state.tags[keep:]
    fitted = longest_fitting(
        platform,
        [f"#{tag}" for tag in extra],
        lambda n: text_of(state._replace(tags=(*kept, *extra[:n]))),
    )
    if fitted is not None:
        return fitted[1], (*kept, *extra[: fitted[0]])
    for tags in (kept, ()):  # the company's tag goes only with a title longer than a post
        shortened = _fit_title(platform, text_of, state._replace(tags=tags))
        if shortened is not None:
            return shortened, tags
    return text_of(ItemParts("", "", "", "", ())), ()


def _fit_title(
    platform: Platform, text_of: Callable[[ItemParts], str], state: ItemParts
) -> str | None:
    """The post with its title cut at a word, or (one giant word) at a grapheme, to fit."""
    title_words = state.title.split()
    fitted = longest_fitting(
        platform, title_words, lambda n: text_of(state._replace(title=_cut(title_words, n)))
    )
    if fitted is not None and fitted[0] > 0:
        return fitted[1]
    clusters = graphemes(state.title)
    fitted = longest_fitting(
        platform,
        clusters,
        lambda n: text_of(
            state._replace(title="".join(clusters[:n]) + (ELLIPSIS if n < len(clusters) else ""))
        ),
        budget=platform.max_length - grapheme_count(text_of(state._replace(title=""))),
        separator=0,
    )
    return fitted[1] if fitted is not None and fitted[0] > 0 else None


def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    return env.get_template(f"social/{name}.txt.j2")


def compose_item_post(
    digest: Digest,
    entry: Entry,
    platform: Platform,
    env: jinja2.Environment,
    options: PostOptions = PostOptions(),
) -> SocialPost:
    template = _template(env, "item")
    item = entry.item
    flags = item_flags(item)
    summary = " ".join(summary_sentences(item.summary, item.title))
    line = read_line(entry.read, item.title)
    key = f"item:{item.id}"
    link = options.links.url(item_link(item), f"post:{key}")
    shown = platform.shown_link(link)

    def render(parts: ItemParts) -> str:
        return template.render(
            title=parts.title,
            summary=parts.summary,
            read=parts.read,
            ratings=parts.ratings,
            url=shown,
            flags=flags,
            hashtags=parts.tags,
        ).strip()

    tags, keep = _item_tags(platform, entry, options)
    parts = ItemParts(item.title, summary, line, ratings(entry.read), tuple(tags))
    text, kept = fit_item(platform, render, parts, keep=keep)
    return SocialPost(
        digest_key=digest.key,
        key=key,
        platform=platform.name,
        text=text,
        url=link,
        hashtags=kept,
        length=platform.length(text),
        limit=platform.max_length,
        title=item.title,
        description=summary or item.summary,
        links=(link,),
        language=language_of(f"{item.title}\n{line}\n{summary or item.summary}")
        if platform.says_language
        else None,
    )


def compose_digest_posts(
    digest: Digest,
    platform: Platform,
    env: jinja2.Environment,
    options: PostOptions = PostOptions(),
) -> Iterator[SocialPost]:
    """One post per entry of the digest, in rank order."""
    for entry in digest.entries:
        yield compose_item_post(digest, entry, platform, env, options)


# Digest posts: a list of stories -------------------------------------------------------------


def _stories(
    digest: Digest, platform: Platform, links: LinkWriter, key: str
) -> list[dict[str, str]]:
    """Each story's flags, title, link (`link`) and the link as the text shows it (`url`)."""
    stories = []
    for entry in digest.entries:
        link = links.url(item_link(entry.item), f"post:{key}")
        stories.append(
            {
                "flags": item_flags(entry.item),
                "title": entry.item.title,
                "link": link,
                "url": platform.shown_link(link),
            }
        )
    return stories


def _links_shown(platform: Platform, text: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """The candidate links that `text` shows, in text order. Candidates come in the order the
    packaged templates write them, and two may be shown alike (Bluesky's shortened links), so
    each is looked for after the one before (then, for a template of another order, anywhere
    not yet taken)."""
    found: list[tuple[int, str]] = []
    taken: set[int] = set()
    position = 0
    for link in candidates:
        shown = platform.shown_link(link)
        start = text.find(shown, position)
        while start in taken:
            start = text.find(shown, start + 1)
        if start < 0:
            start = text.find(shown)
            while start in taken:
                start = text.find(shown, start + 1)
        if start >= 0:
            found.append((start, link))
            taken.add(start)
            position = start + len(shown)
    return tuple(link for _, link in sorted(found))


DIGEST_HASHTAGS = 5  # a digest post carries the tags its stories share most, not all of them


def _digest_tags(digest: Digest, options: PostOptions) -> list[str]:
    """The company's tag (a company digest), then the tags most of the stories carry."""
    counts: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for entry in digest.entries:
        for tag in entry_hashtags(entry, options.topic_tags):
            counts[tag.casefold()] = counts.get(tag.casefold(), 0) + 1
            spelled.setdefault(tag.casefold(), tag)
    ranked = sorted(counts, key=lambda folded: -counts[folded])  # stable: first seen wins ties
    leading = [digest.company.hashtag] if digest.company is not None else []
    return list(unique_hashtags([*leading, *(spelled[f] for f in ranked)]))[:DIGEST_HASHTAGS]


def _fit_story(
    platform: Platform, story: dict[str, str], render: Callable[[list[dict[str, str]]], str]
) -> dict[str, str]:
    """A story whose title is too long for a post of its own, its title shortened."""
    words = story["title"].split()
    fitted = longest_fitting(
        platform, words, lambda n: render([{**story, "title": _cut(words, n)}])
    )
    return {**story, "title": _cut(words, fitted[0] if fitted else 0)}


def compose_list_posts(
    digest: Digest,
    platform: Platform,
    env: jinja2.Environment,
    *,
    template_name: str,
    key: str,
    url: str,
    heading: str,
    thread: bool,
    options: PostOptions = PostOptions(),
) -> list[SocialPost]:
    """One post listing the digest's stories or, where the platform threads and one post cannot
    hold them, a thread of numbered posts. The digest's link is in the first post."""
    template = _template(env, template_name)
    link = options.links.url(url, f"post:{key}")
    stories = _stories(digest, platform, options.links, key)
    # Told from what the stories say, a list of headlines being too short to tell by.
    told = [heading, *(f"{e.item.title}\n{e.item.summary}" for e in digest.entries)]
    language = language_of("\n".join(told)) if platform.says_language else None
    context: dict[str, Any] = {"digest": digest, "heading": heading, "company": digest.company}

    def render(
        tags: Sequence[str], chosen: Sequence[dict[str, str]], *, first: bool, part: int, parts: int
    ) -> str:
        return template.render(
            **context,
            url=platform.shown_link(link) if first else None,
            hashtags=tags,
            stories=chosen,
            first=first,
            part=part,
            parts=parts,
        ).strip()

    def post(
        text: str,
        tags: Sequence[str],
        part_key: str,
        chosen: Sequence[dict[str, str]],
        lead: dict[str, str] | None = None,
        **extra: Any,
    ) -> SocialPost:
        """A post of the `chosen` stories; `lead` is the first story of a thread's later part,
        whose link it carries."""
        shown = [story["link"] for story in chosen] + ([] if lead else [link])
        return SocialPost(
            digest_key=digest.key,
            key=part_key,
            platform=platform.name,
            text=text,
            url=lead["link"] if lead else link,
            hashtags=tuple(tags),
            length=platform.length(text),
            limit=platform.max_length,
            title=lead["title"] if lead else heading,
            description="" if lead else ", ".join(story["title"] for story in stories[:3]),
            links=_links_shown(platform, text, shown),
            language=language,
            **extra,
        )

    tags = _platform_tags(platform, _digest_tags(digest, options))
    whole = render(tags, stories, first=True, part=1, parts=1)
    if platform.fits(whole):
        return [post(whole, tags, key, stories)]
    if not (thread and platform.threads and len(stories) > 1):
        # One post: tags go first, then stories from the end; the digest's link stays.
        fitted = longest_fitting(
            platform, tags, lambda n: render(tags[:n], stories, first=True, part=1, parts=1)
        )
        if fitted is not None:
            return [post(fitted[1], tags[: fitted[0]], key, stories)]
        listed = longest_fitting(
            platform, stories, lambda n: render((), stories[:n], first=True, part=1, parts=1)
        )
        text = listed[1] if listed else render((), [], first=True, part=1, parts=1)
        return [post(text, (), key, stories[: listed[0]] if listed else [])]
    return _thread(platform, stories, tags, render, post, key)


def _thread(
    platform: Platform,
    stories: list[dict[str, str]],
    tags: list[str],
    render: Callable[..., str],
    post: Callable[..., SocialPost],
    key: str,
) -> list[SocialPost]:
    wide = len(stories) + 1  # numbering at its widest while the count of parts is not known
    # The first post carries the link, then as many tags as leave room for the first story.
    fitted = longest_fitting(
        platform, tags, lambda n: render(tags[:n], stories[:1], first=True, part=1, parts=wide)
    ) or longest_fitting(
        platform, tags, lambda n: render(tags[:n], [], first=True, part=1, parts=wide)
    )
    head_tags = tags[: fitted[0]] if fitted else []
    groups: list[list[dict[str, str]]] = [[]]
    for story in stories:
        first = len(groups) == 1
        candidate = [*groups[-1], story]
        tags_here = head_tags if first else []
        if platform.fits(render(tags_here, candidate, first=first, part=len(groups), parts=wide)):
            groups[-1] = candidate
            continue
        alone = lambda chosen: render([], chosen, first=False, part=len(groups) + 1, parts=wide)  # noqa: E731
        groups.append(
            [story if platform.fits(alone([story])) else _fit_story(platform, story, alone)]
        )
    posts = []
    for index, group in enumerate(groups, start=1):
        first = index == 1
        text = render(head_tags if first else [], group, first=first, part=index, parts=len(groups))
        part_key = key if first else f"{key}:{index}"
        previous = None if first else (key if index == 2 else f"{key}:{index - 1}")
        posts.append(
            post(
                text,
                head_tags if first else [],
                part_key,
                group,
                None if first or not group else group[0],
                reply_to=previous,
                thread_root=None if first else key,
            )
        )
    return posts


def compose_weekly_posts(
    digest: Digest,
    platform: Platform,
    env: jinja2.Environment,
    *,
    url: str,
    options: PostOptions = PostOptions(),
) -> list[SocialPost]:
    """The weekly "top stories": one post, or a numbered thread where the platform has them."""
    heading = f"🗞️ {digest.title}: top stories"
    return compose_list_posts(
        digest,
        platform,
        env,
        template_name="weekly",
        key="top",
        url=url,
        heading=heading,
        thread=True,
        options=options,
    )


def compose_company_post(
    digest: Digest,
    platform: Platform,
    env: jinja2.Environment,
    *,
    url: str,
    options: PostOptions = PostOptions(),
) -> SocialPost:
    """A per-company digest's one post: the company, its stories of the week, the digest's link."""
    company = digest.company
    flag = country_flag(company.country) if company else None
    # The digest's title names the company already ("Anthropic: what's new").
    heading = f"{flag} {digest.title}" if flag else digest.title
    key = f"company:{company.slug}" if company else "company"
    (post,) = compose_list_posts(
        digest,
        platform,
        env,
        template_name="company",
        key=key,
        url=url,
        heading=heading,
        thread=False,
        options=options,
    )
    return post
