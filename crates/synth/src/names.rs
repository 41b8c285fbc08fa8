//! Made-up but plausible names and titles, in the style of a scene's language.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Syllable inventories for one naming style: onsets, nuclei, codas, accent substitutions.
struct Style {
    onsets: &'static [&'static str],
    nuclei: &'static [&'static str],
    codas: &'static [&'static str],
    accents: &'static [(char, char)],
}

const EN: Style = Style {
    onsets: &[
        "b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p",
        "pr", "r", "s", "sh", "sl", "st", "t", "tr", "v", "w", "y", "z", "",
    ],
    nuclei: &[
        "a", "e", "i", "o", "u", "ai", "ea", "oo", "ay", "ee", "ie", "y",
    ],
    codas: &[
        "", "", "", "n", "r", "s", "x", "ck", "nd", "ll", "th", "m", "ne", "ze",
    ],
    accents: &[('e', 'é'), ('o', 'ø')],
};
const ES: Style = Style {
    onsets: &[
        "b", "c", "d", "g", "j", "l", "m", "n", "p", "r", "s", "t", "v", "ll", "ch", "ñ", "br",
        "fl", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "ue", "ia", "io"],
    codas: &["", "", "", "n", "s", "r", "l"],
    accents: &[('a', 'á'), ('e', 'é'), ('i', 'í'), ('o', 'ó'), ('u', 'ú')],
};
const PT: Style = Style {
    onsets: &[
        "b", "c", "d", "f", "g", "j", "l", "m", "n", "p", "r", "s", "t", "v", "lh", "nh", "x", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "ei", "ou", "ao"],
    codas: &["", "", "", "s", "r", "l", "m"],
    accents: &[('a', 'ã'), ('o', 'õ'), ('e', 'ê')],
};
const FR: Style = Style {
    onsets: &[
        "b", "c", "ch", "d", "f", "g", "j", "l", "m", "n", "p", "r", "s", "t", "v", "gr", "tr", "",
    ],
    nuclei: &["a", "e", "i", "o", "ou", "eu", "ai", "au", "ie"],
    codas: &["", "", "", "n", "r", "l", "s", "x", "tte", "lle"],
    accents: &[('e', 'é'), ('a', 'à'), ('i', 'î')],
};
const DE: Style = Style {
    onsets: &[
        "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "sch", "st", "t", "w", "z",
        "kr", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "ei", "au", "ie"],
    codas: &["", "n", "r", "s", "t", "ng", "ch", "nz", "ck", "ll"],
    accents: &[('a', 'ä'), ('o', 'ö'), ('u', 'ü')],
};
const IT: Style = Style {
    onsets: &[
        "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "gi", "ch", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "ia", "io"],
    codas: &["", "", "", "", "n", "l", "r"],
    accents: &[('o', 'ò'), ('e', 'è')],
};
const TR: Style = Style {
    onsets: &[
        "b", "c", "d", "g", "h", "k", "l", "m", "n", "s", "t", "y", "z", "ş", "ç", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "ı", "ü", "ö"],
    codas: &["", "", "n", "r", "l", "k", "z", "m"],
    accents: &[],
};
const PL: Style = Style {
    onsets: &[
        "b", "d", "g", "k", "l", "m", "n", "p", "r", "s", "t", "w", "z", "sz", "cz", "ł", "ż", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "y", "ie"],
    codas: &["", "", "k", "n", "r", "sz", "ń", "ć"],
    accents: &[('o', 'ó'), ('e', 'ę')],
};
const SV: Style = Style {
    onsets: &[
        "b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "r", "s", "sk", "st", "t", "v", "",
    ],
    nuclei: &["a", "e", "i", "o", "u", "y", "ä", "ö", "å"],
    codas: &["", "", "n", "r", "s", "t", "ng", "ll", "rk"],
    accents: &[],
};

const KO_SYL: &[(&str, &str)] = &[
    ("min", "민"),
    ("ji", "지"),
    ("seo", "서"),
    ("yeon", "연"),
    ("hyun", "현"),
    ("woo", "우"),
    ("jin", "진"),
    ("soo", "수"),
    ("ha", "하"),
    ("na", "나"),
    ("young", "영"),
    ("eun", "은"),
    ("jae", "재"),
    ("won", "원"),
    ("hee", "희"),
    ("do", "도"),
];
const KO_FAMILY: &[(&str, &str)] = &[
    ("Kim", "김"),
    ("Lee", "이"),
    ("Park", "박"),
    ("Choi", "최"),
    ("Jung", "정"),
    ("Kang", "강"),
    ("Yoon", "윤"),
    ("Han", "한"),
];
const JA_SYL: &[(&str, &str)] = &[
    ("ka", "カ"),
    ("ki", "キ"),
    ("ku", "ク"),
    ("ko", "コ"),
    ("sa", "サ"),
    ("shi", "シ"),
    ("su", "ス"),
    ("ta", "タ"),
    ("te", "テ"),
    ("to", "ト"),
    ("na", "ナ"),
    ("ni", "ニ"),
    ("ha", "ハ"),
    ("hi", "ヒ"),
    ("mi", "ミ"),
    ("yu", "ユ"),
    ("ri", "リ"),
    ("ru", "ル"),
    ("ro", "ロ"),
    ("n", "ン"),
];

const WORDS_EN: &[&str] = &[
    "Love", "Night", "Fire", "Heart", "Dream", "Gold", "Summer", "City", "Lights", "Rain", "Blue",
    "Wild", "Forever", "Tonight", "Dance", "Money", "Ghost", "Echo", "Highway", "Paradise",
    "Storm", "Sugar", "River", "Shadow", "Diamond", "Midnight", "Stranger", "Honey", "Thunder",
    "Neon", "Velvet", "Broken", "Crazy", "Sweet", "Lonely", "Home", "Fever", "Sky", "Ocean",
    "Alive", "Young", "Free", "Runaway", "Heaven", "Angel", "Moon", "Sun", "Star", "Party", "Road",
    "Glass", "Smoke", "Silver", "Cold", "Hold On", "Let Go", "Golden", "Electric", "Drive",
    "Gravity",
];
const WORDS_ES: &[&str] = &[
    "Amor",
    "Noche",
    "Fuego",
    "Corazón",
    "Sueño",
    "Luna",
    "Sol",
    "Cielo",
    "Bailar",
    "Vida",
    "Calle",
    "Loco",
    "Bonita",
    "Mañana",
    "Besos",
    "Playa",
    "Te Quiero",
    "Sin Ti",
    "Canción",
];
const WORDS_FR: &[&str] = &[
    "Amour",
    "Nuit",
    "Ciel",
    "Rêve",
    "Cœur",
    "Soleil",
    "Danse",
    "Pluie",
    "Étoile",
    "Ville",
    "Toujours",
    "Jamais",
    "Mélancolie",
    "La Vie",
];
const WORDS_PT: &[&str] = &[
    "Saudade",
    "Coração",
    "Noite",
    "Amor",
    "Sol",
    "Mar",
    "Festa",
    "Vida",
    "Você",
    "Menina",
];
const WORDS_DE: &[&str] = &[
    "Liebe",
    "Nacht",
    "Herz",
    "Traum",
    "Sommer",
    "Stadt",
    "Regen",
    "Himmel",
    "Für Immer",
    "Sehnsucht",
    "Straße",
];
const WORDS_IT: &[&str] = &[
    "Amore", "Notte", "Cuore", "Sole", "Mare", "Vita", "Stella", "Bella", "Perché", "Città",
];
const WORDS_TR: &[&str] = &["Aşk", "Gece", "Kalp", "Rüya", "Yıldız", "Deniz", "Sevgilim"];
const WORDS_PL: &[&str] = &["Miłość", "Noc", "Serce", "Sen", "Gwiazda", "Ulica"];
const WORDS_SV: &[&str] = &["Kärlek", "Natt", "Hjärta", "Dröm", "Sommar", "Stjärna"];
const WORDS_KO: &[(&str, &str)] = &[
    ("사랑", "Love"),
    ("밤", "Night"),
    ("꿈", "Dream"),
    ("별", "Star"),
    ("봄", "Spring"),
    ("하늘", "Sky"),
    ("눈물", "Tears"),
    ("바다", "Sea"),
];
const WORDS_JA: &[(&str, &str)] = &[
    ("夜空", "Yozora"),
    ("桜", "Sakura"),
    ("花火", "Hanabi"),
    ("恋", "Koi"),
    ("雨", "Ame"),
    ("夢", "Yume"),
    ("月", "Tsuki"),
    ("風", "Kaze"),
];

const TITLE_SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    " (Interlude)",
    " (Intro)",
    " (Outro)",
    " (Live)",
    " (Acoustic)",
    " Pt. 2",
    " (Freestyle)",
];
pub const GENRE_NOUNS: &[&str] = &[
    "wave",
    "core",
    "pop",
    "hop",
    "step",
    "soul",
    "folk",
    "trap",
    "house",
    "rock",
    "drill",
    "punk",
    "jazz",
    "funk",
    "disco",
    "grime",
    "ballad",
    "techno",
    "blues",
    "metal",
    "indie",
    "R&B",
    "country",
    "cumbia",
    "reggaeton",
    "chanson",
    "city pop",
    "schlager",
    "bossa",
    "dancehall",
    "emo",
    "synth",
];
const STAGE_PREFIX: &[&str] = &[
    "Lil ", "DJ ", "MC ", "Young ", "Big ", "Yung ", "King ", "Queen ",
];

fn style(lang: &str) -> &'static Style {
    match lang {
        "es" => &ES,
        "pt" => &PT,
        "fr" => &FR,
        "de" => &DE,
        "it" => &IT,
        "tr" => &TR,
        "pl" => &PL,
        "sv" => &SV,
        _ => &EN,
    }
}

fn one<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Oa".to_string(),
    }
}

/// A word of `syllables` syllables in the style of `lang`.
pub fn word(rng: &mut ChaCha8Rng, lang: &str, syllables: usize) -> String {
    let st = style(lang);
    let mut w = String::new();
    for k in 0..syllables {
        let onset: &str = one(rng, st.onsets);
        w.push_str(onset);
        let nucleus = one(rng, st.nuclei);
        if !st.accents.is_empty() && rng.random::<f64>() < 0.06 {
            let accented = st
                .accents
                .iter()
                .find(|(plain, _)| nucleus.contains(*plain))
                .map(|(plain, acc)| nucleus.replacen(*plain, &acc.to_string(), 1));
            w.push_str(accented.as_deref().unwrap_or(nucleus));
        } else {
            w.push_str(nucleus);
        }
        if k == syllables - 1 {
            let coda: &str = one(rng, st.codas);
            w.push_str(coda);
        }
    }
    capitalise(&w)
}

fn native_word(rng: &mut ChaCha8Rng, table: &[(&str, &str)], syllables: usize) -> (String, String) {
    let (mut roman, mut native) = (String::new(), String::new());
    for _ in 0..syllables {
        let (r, n) = one(rng, table);
        roman.push_str(r);
        native.push_str(n);
    }
    (capitalise(&roman), native)
}

/// A performer, producer or writer name in the style of `lang`.
pub fn person_name(rng: &mut ChaCha8Rng, lang: &str) -> String {
    let x: f64 = rng.random();
    match lang {
        "ko" => {
            let (r, n) = native_word(rng, KO_SYL, 2);
            if x < 0.35 {
                format!("{} ({n})", r.to_uppercase())
            } else if x < 0.75 {
                format!("{r} ({n})")
            } else {
                let (fr, fnat) = one(rng, KO_FAMILY);
                format!("{fr} {r} ({fnat}{n})")
            }
        }
        "ja" => {
            let syl = 2 + rng.random_range(0..2);
            let (r, n) = native_word(rng, JA_SYL, syl);
            if x < 0.5 {
                format!("{r} ({n})")
            } else {
                let (r2, n2) = native_word(rng, JA_SYL, 2);
                format!("{r2} {r} ({n2} {n})")
            }
        }
        _ => {
            if x < 0.45 {
                let first_syllables = 1 + rng.random_range(0..2);
                let first = word(rng, lang, first_syllables);
                let last_syllables = 2 + rng.random_range(0..2);
                let last = word(rng, lang, last_syllables);
                format!("{first} {last}")
            } else if x < 0.65 {
                let syllables = 1 + rng.random_range(0..2);
                let mut name = word(rng, lang, syllables);
                if rng.random::<f64>() < 0.5 {
                    let prefix = one(rng, STAGE_PREFIX);
                    name = format!("{prefix}{name}");
                }
                if lang == "en" && rng.random::<f64>() < 0.05 {
                    name = name.replacen('s', "$", 1);
                }
                name
            } else if x < 0.85 {
                let w = word(rng, lang, 2);
                if lang == "en" {
                    if w.ends_with('s') {
                        format!("The {w}")
                    } else {
                        format!("The {w}s")
                    }
                } else {
                    format!("{w} {}", word(rng, lang, 2))
                }
            } else {
                let syllables = 2 + rng.random_range(0..2);
                let w = word(rng, lang, syllables);
                if rng.random::<f64>() < 0.3 {
                    w.to_uppercase()
                } else {
                    w
                }
            }
        }
    }
}

fn vocabulary(lang: &str) -> &'static [&'static str] {
    match lang {
        "es" => WORDS_ES,
        "fr" => WORDS_FR,
        "pt" => WORDS_PT,
        "de" => WORDS_DE,
        "it" => WORDS_IT,
        "tr" => WORDS_TR,
        "pl" => WORDS_PL,
        "sv" => WORDS_SV,
        _ => WORDS_EN,
    }
}

/// A song or album title in `lang`.
pub fn title(rng: &mut ChaCha8Rng, lang: &str) -> String {
    let mut x: f64 = rng.random();
    let mut lang = lang;
    if lang == "ko" || lang == "ja" {
        if x < 0.45 {
            let (native, english) = one(rng, if lang == "ko" { WORDS_KO } else { WORDS_JA });
            return format!("{native} ({english}){}", one(rng, TITLE_SUFFIXES));
        }
        // K-pop and J-pop titles are very often English.
        lang = "en";
        x = rng.random();
    }
    let vocab = vocabulary(lang);
    let mut t = if x < 0.35 {
        one(rng, vocab).to_string()
    } else if x < 0.65 {
        let a = one(rng, vocab);
        let b = one(rng, vocab);
        if a == b {
            a.to_string()
        } else {
            format!("{a} {b}")
        }
    } else if x < 0.85 {
        let syllables = 2 + rng.random_range(0..2);
        word(rng, lang, syllables)
    } else {
        let first = one(rng, vocab);
        format!("{first} {}", word(rng, lang, 2))
    };
    if rng.random::<f64>() < 0.04 {
        t = t.to_uppercase();
    }
    let suffix: &str = one(rng, TITLE_SUFFIXES);
    t.push_str(suffix);
    t
}

/// ASCII slug for URLs: accents folded where known, everything else a dash.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'á' | 'à' | 'ä' | 'ã' | 'å' | 'â' => Some('a'),
            'é' | 'è' | 'ê' | 'ę' => Some('e'),
            'í' | 'î' | 'ı' => Some('i'),
            'ó' | 'ò' | 'ö' | 'õ' | 'ø' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ñ' | 'ń' => Some('n'),
            'ç' | 'ć' => Some('c'),
            'ş' | 'ś' => Some('s'),
            'ł' => Some('l'),
            'ż' => Some('z'),
            'ğ' => Some('g'),
            _ => None,
        };
        match folded {
            Some(ch) => {
                if dash && !out.is_empty() {
                    out.push('-');
                }
                dash = false;
                out.push(ch);
            }
            None => dash = true,
        }
    }
    out
}
