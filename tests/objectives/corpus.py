"""A few paragraphs of public-domain English (Dickens, Melville, Austen, Lincoln, Thoreau, Twain, Carroll), inline so
the objective tests need no download."""

DOCUMENTS = [
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, "
    "it was the epoch of belief, it was the epoch of incredulity. It was the season of Light, it was the season of "
    "Darkness. It was the spring of hope, it was the winter of despair. We had everything before us, we had nothing "
    "before us. We were all going direct to Heaven, we were all going direct the other way. In short, the period was "
    "so far like the present period, that some of its noisiest authorities insisted on its being received, for good "
    "or for evil, in the superlative degree of comparison only.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and "
    "nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the "
    "world. It is a way I have of driving off the spleen and regulating the circulation. Whenever I find myself "
    "growing grim about the mouth, whenever it is a damp, drizzly November in my soul, then I account it high time to "
    "get to sea as soon as I can. This is my substitute for pistol and ball. There is nothing surprising in this. If "
    "they but knew it, almost all men in their degree, some time or other, cherish very nearly the same feelings "
    "towards the ocean with me.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a "
    "wife. However little known the feelings or views of such a man may be on his first entering a neighbourhood, "
    "this truth is so well fixed in the minds of the surrounding families, that he is considered the rightful "
    "property of some one or other of their daughters. My dear Mr. Bennet, said his lady to him one day, have you "
    "heard that Netherfield Park is let at last? Mr. Bennet replied that he had not. But it is, returned she, for Mrs. "
    "Long has just been here, and she told me all about it. Mr. Bennet made no answer.",
    "Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in Liberty, "
    "and dedicated to the proposition that all men are created equal. Now we are engaged in a great civil war, testing "
    "whether that nation, or any nation so conceived and so dedicated, can long endure. We are met on a great "
    "battle-field of that war. We have come to dedicate a portion of that field, as a final resting place for those "
    "who here gave their lives that that nation might live. It is altogether fitting and proper that we should do "
    "this. But, in a larger sense, we can not dedicate, we can not consecrate, we can not hallow this ground.",
    "I went to the woods because I wished to live deliberately, to front only the essential facts of life, and see if "
    "I could not learn what it had to teach, and not, when I came to die, discover that I had not lived. I did not "
    "wish to live what was not life, living is so dear. Nor did I wish to practise resignation, unless it was quite "
    "necessary. I wanted to live deep and suck out all the marrow of life. Our life is frittered away by detail. "
    "Simplify, simplify!",
    "You don't know about me without you have read a book by the name of The Adventures of Tom Sawyer; but that "
    "ain't no matter. That book was made by Mr. Mark Twain, and he told the truth, mainly. There was things which he "
    "stretched, but mainly he told the truth. That is nothing. I never seen anybody but lied one time or another. "
    "The widow Douglas she took me for her son, and allowed she would sivilize me. But it was rough living in the "
    "house all the time, considering how dismal regular and decent the widow was in all her ways.",
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do. Once or "
    "twice she had peeped into the book her sister was reading, but it had no pictures or conversations in it. And "
    "what is the use of a book, thought Alice, without pictures or conversations? So she was considering in her own "
    "mind, as well as she could, for the hot day made her feel very sleepy and stupid, whether the pleasure of making "
    "a daisy-chain would be worth the trouble of getting up and picking the daisies, when suddenly a White Rabbit "
    "with pink eyes ran close by her. There was nothing so very remarkable in that.",
    "Marley was dead, to begin with. There is no doubt whatever about that. The register of his burial was signed by "
    "the clergyman, the clerk, the undertaker, and the chief mourner. Scrooge signed it. And Scrooge's name was good "
    "upon Change, for anything he chose to put his hand to. Old Marley was as dead as a door-nail. Scrooge knew he "
    "was dead? Of course he did. How could it be otherwise? Scrooge and he were partners for I don't know how many "
    "years.",
]
