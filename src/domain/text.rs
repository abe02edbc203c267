//! Texts people read, in both languages: Chinese first, English beside it.
//!
//! A message is written in both languages where it arises (`text!("…", "…")`), and the
//! language is chosen only when it is shown (`http::language` negotiates it from
//! `Accept-Language`). A text not yet translated is [`Text::english`]: a Chinese answer then
//! shows the Chinese meaning of its code instead, never English under a Chinese title.

use std::borrow::Cow;

/// A language the service answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// Simplified Chinese (`zh-CN`): the people reading the answers work in Chinese.
    #[default]
    Chinese,
    /// English (`en`).
    English,
}

impl Language {
    /// The tag of `Content-Language` and of the setting `i18n.default_language`.
    pub const fn tag(self) -> &'static str {
        match self {
            Language::Chinese => "zh-CN",
            Language::English => "en",
        }
    }
}

/// A message in Chinese and English. The Chinese is absent only in a text nobody has
/// translated yet ([`Text::english`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    zh: Option<Cow<'static, str>>,
    en: Cow<'static, str>,
}

impl Text {
    /// A text in both languages. For formatted texts, [`text!`](crate::text) is shorter.
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Self {
        Text {
            zh: Some(zh.into()),
            en: en.into(),
        }
    }

    /// A text that has only its English yet: a Chinese answer shows the meaning of the code
    /// it goes with instead.
    pub fn english(en: impl Into<Cow<'static, str>>) -> Self {
        Text {
            zh: None,
            en: en.into(),
        }
    }

    /// The Chinese, when there is one.
    pub fn zh(&self) -> Option<&str> {
        self.zh.as_deref()
    }

    /// The English.
    pub fn en(&self) -> &str {
        &self.en
    }

    /// The text in `lang`; `None` for Chinese when it has none.
    pub fn get(&self, lang: Language) -> Option<&str> {
        match lang {
            Language::Chinese => self.zh(),
            Language::English => Some(self.en()),
        }
    }

    /// Each language's text rewritten by `f` (e.g. prefixed with a field name).
    pub fn map(&self, f: impl Fn(Language, &str) -> String) -> Text {
        Text {
            zh: self.zh.as_deref().map(|z| f(Language::Chinese, z).into()),
            en: f(Language::English, &self.en).into(),
        }
    }
}

/// For logs and `Display` of errors: the English (logs are read by operators in one language).
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

/// A [`Text`] from two format strings, each with its own inline arguments:
/// `text!("不得超过 {max} 个字符", "must be at most {max} characters")`.
#[macro_export]
macro_rules! text {
    ($zh:literal, $en:literal $(,)?) => {
        $crate::domain::text::Text::new(::std::format!($zh), ::std::format!($en))
    };
    // Arguments shared by both (each string uses every one of them).
    ($zh:literal, $en:literal, $($arg:expr),+ $(,)?) => {
        $crate::domain::text::Text::new(
            ::std::format!($zh, $($arg),+),
            ::std::format!($en, $($arg),+),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_answers_in_each_language_and_an_untranslated_one_has_no_chinese() {
        let max = 5;
        let t = crate::text!("不得超过 {max} 个字符", "must be at most {max} characters");
        assert_eq!(t.get(Language::Chinese), Some("不得超过 5 个字符"));
        assert_eq!(
            t.get(Language::English),
            Some("must be at most 5 characters")
        );
        let e = Text::english("only English");
        assert_eq!(e.get(Language::Chinese), None);
        assert_eq!(e.get(Language::English), Some("only English"));
        assert_eq!(e.to_string(), "only English");
        let prefixed = t.map(|l, s| match l {
            Language::Chinese => format!("名称：{s}"),
            Language::English => format!("name: {s}"),
        });
        assert_eq!(prefixed.zh(), Some("名称：不得超过 5 个字符"));
        assert_eq!(prefixed.en(), "name: must be at most 5 characters");
        assert_eq!(Language::default(), Language::Chinese);
        assert_eq!(Language::English.tag(), "en");
    }
}
