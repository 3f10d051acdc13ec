"""The default chat template of the decoder tokenizers (GPT-2, LLaMA, Mistral, Mixtral).

Plain text over any vocabulary, no new special tokens: each message is `role: content` followed by the eos token
and a newline; the generation prompt is `assistant:`; the bos token (if any) opens the conversation. Content may be
a string or a list of OpenAI-style parts (only `text` parts are kept). Pass `chat_template=` to
`train_tokenizer` (or the tokenizer class) to use another one.
"""

DEFAULT_CHAT_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% for message in messages %}"
    "{{ message['role'] }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
