"""The channel-free conversation core (:mod:`bot.conversation.core`).

What it says comes out as :class:`bot.content.Part`, a leaf module the
handoff desk and every channel adapter also use.
"""
