//! Commands: whether request input changes what a started program does.
//!
//! Two shapes of command reach an application's sinks. A **shell script** (`sh -c "getent
//! hosts $HOST"` built by pasting) is read with a POSIX shell lexer: input is harmless while
//! every character of it is plain in the quoting where it lands, so that it stays inside one
//! word. It is command injection when it adds a separator (`;`, `&`, `|`, a newline), a
//! redirection, a substitution (`$(...)`, backticks, `$VAR`), a glob, a quote that ends the
//! quoting around it, a comment, or a second word; or when it starts a word with `-` (an
//! option). Quoting that really encloses the input is respected: `'O Brien'` in single quotes
//! is one plain word. An **argument vector** (`Command::new(program).args(...)`) has no
//! shell: input is argument injection when it supplies the program, or starts an argument
//! with `-` where the program reads options.
//!
//! ```
//! use antibody_detect::{Input, Source};
//! use antibody_detect::command::{CommandAdded, CommandVerdict, check_script};
//!
//! let attack = [Input::new(Source::Query, "host", "localhost; cat /etc/passwd")];
//! let verdict = check_script("getent hosts localhost; cat /etc/passwd", &attack);
//! assert!(matches!(verdict, CommandVerdict::Injection(e) if e.added == CommandAdded::Separator));
//!
//! let benign = [Input::new(Source::Query, "host", "shop-01.internal")];
//! assert_eq!(check_script("getent hosts shop-01.internal", &benign), CommandVerdict::Data);
//! ```

use std::ops::Range;

use crate::fingerprint::{Case, Fingerprint, Fnv};
use crate::input::Input;

/// What an input added to a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommandAdded {
    /// `;`, `&`, `&&`, `||` or a newline: another command.
    Separator,
    /// `|`: a pipeline.
    Pipe,
    /// `<`, `>` and their kin: a redirection.
    Redirection,
    /// `$(...)`, backticks, `$name`, `${...}`: a substitution.
    Substitution,
    /// `*`, `?`, `[...]`, `{a,b}`, `~` outside quotes: a pattern the shell expands.
    Glob,
    /// A quote or a backslash that changes the quoting around the input.
    Quote,
    /// `#` at a word's start: the rest of the line is ignored.
    Comment,
    /// `(` or `)`: a subshell or a group.
    Grouping,
    /// White space outside quotes: a second word.
    Word,
    /// A word, or an argument, that starts with `-`: an option.
    Option,
    /// The program itself.
    Program,
}

impl CommandAdded {
    /// How much it changes: where an input adds several things, the event names the most.
    fn weight(self) -> u8 {
        match self {
            CommandAdded::Program => 10,
            CommandAdded::Separator => 9,
            CommandAdded::Substitution => 8,
            CommandAdded::Pipe => 7,
            CommandAdded::Redirection => 6,
            CommandAdded::Grouping => 5,
            CommandAdded::Comment => 4,
            CommandAdded::Option => 3,
            CommandAdded::Glob => 2,
            CommandAdded::Quote => 1,
            CommandAdded::Word => 0,
        }
    }

    /// A short name for reports (`separator`, `pipe`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandAdded::Separator => "command separator",
            CommandAdded::Pipe => "pipe",
            CommandAdded::Redirection => "redirection",
            CommandAdded::Substitution => "substitution",
            CommandAdded::Glob => "glob",
            CommandAdded::Quote => "quote",
            CommandAdded::Comment => "comment",
            CommandAdded::Grouping => "grouping",
            CommandAdded::Word => "extra argument",
            CommandAdded::Option => "option",
            CommandAdded::Program => "program",
        }
    }
}

/// The input behind an injection, and what it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandEvidence<'a> {
    /// The input.
    pub input: &'a Input<'a>,
    /// Where it lies in the script, or in the argument it was found in.
    pub span: Range<usize>,
    /// For an argument vector, the index of that argument (0: the program).
    pub argument: Option<usize>,
    /// What it added.
    pub added: CommandAdded,
}

/// What the inputs do to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandVerdict<'a> {
    /// No input of two characters or more occurs in the command.
    NoInput,
    /// Inputs occur, and each stays plain inside one word or argument.
    Data,
    /// An input changes what the command does.
    Injection(CommandEvidence<'a>),
}

impl CommandVerdict<'_> {
    /// Whether this verdict is an injection.
    pub fn is_injection(&self) -> bool {
        matches!(self, CommandVerdict::Injection(_))
    }
}

/// Where a character of a script stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quoting {
    Unquoted,
    Single,
    Double,
}

/// Each byte's quoting in `script`, and whether it starts a word, by a POSIX shell's rules
/// (a backslash escapes the next byte outside single quotes).
fn quoting_of(script: &str) -> Vec<(Quoting, bool)> {
    let bytes = script.as_bytes();
    let mut states = Vec::with_capacity(bytes.len());
    let mut quoting = Quoting::Unquoted;
    let mut escaped = false;
    let mut word_start = true;
    for &byte in bytes {
        states.push((quoting, word_start && quoting == Quoting::Unquoted));
        word_start = false;
        if escaped {
            escaped = false;
            continue;
        }
        match (quoting, byte) {
            (Quoting::Single, b'\'') | (Quoting::Double, b'"') => quoting = Quoting::Unquoted,
            (Quoting::Double | Quoting::Unquoted, b'\\') => escaped = true,
            (Quoting::Unquoted, b'\'') => quoting = Quoting::Single,
            (Quoting::Unquoted, b'"') => quoting = Quoting::Double,
            (Quoting::Unquoted, b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')') => {
                word_start = true;
            }
            (Quoting::Unquoted, b'<' | b'>') => word_start = true,
            _ => {}
        }
    }
    states
}

/// What `byte` adds where it stands, if it is not plain there.
fn special(byte: u8, quoting: Quoting, word_start: bool) -> Option<CommandAdded> {
    match quoting {
        Quoting::Single => (byte == b'\'').then_some(CommandAdded::Quote),
        Quoting::Double => match byte {
            b'"' | b'\\' => Some(CommandAdded::Quote),
            b'$' | b'`' => Some(CommandAdded::Substitution),
            _ => None,
        },
        Quoting::Unquoted => match byte {
            // A NUL ends the script where C code reads it.
            b';' | b'&' | b'\n' | b'\r' | 0 => Some(CommandAdded::Separator),
            b'|' => Some(CommandAdded::Pipe),
            b'<' | b'>' => Some(CommandAdded::Redirection),
            b'$' | b'`' => Some(CommandAdded::Substitution),
            b'*' | b'?' | b'[' | b'{' | b'}' => Some(CommandAdded::Glob),
            b'~' if word_start => Some(CommandAdded::Glob),
            b'\'' | b'"' | b'\\' => Some(CommandAdded::Quote),
            b'#' if word_start => Some(CommandAdded::Comment),
            b'(' | b')' => Some(CommandAdded::Grouping),
            b' ' | b'\t' | 0x0b | 0x0c => Some(CommandAdded::Word),
            b'-' if word_start => Some(CommandAdded::Option),
            _ => None,
        },
    }
}

/// Judges `script`, about to run in a shell (`sh -c script`), against the request's
/// `inputs`.
pub fn check_script<'a>(script: &str, inputs: &'a [Input<'a>]) -> CommandVerdict<'a> {
    let mut states = None;
    let mut verdict = CommandVerdict::NoInput;
    for input in inputs {
        if !has_two_characters(input.value) {
            continue;
        }
        for start in memchr::memmem::find_iter(script.as_bytes(), input.value.as_bytes()) {
            verdict = CommandVerdict::Data;
            let states = states.get_or_insert_with(|| quoting_of(script));
            let span = start..start + input.value.len();
            let added = script.as_bytes()[span.clone()]
                .iter()
                .zip(&states[span.clone()])
                .filter_map(|(&byte, &(quoting, word_start))| special(byte, quoting, word_start))
                .max_by_key(|added| added.weight());
            if let Some(added) = added {
                return CommandVerdict::Injection(CommandEvidence {
                    input,
                    span,
                    argument: None,
                    added,
                });
            }
        }
    }
    verdict
}

/// Judges an argument vector (`program` and `arguments`, started without a shell) against
/// the request's `inputs`.
pub fn check_arguments<'a, S: AsRef<str>>(
    program: &str,
    arguments: &[S],
    inputs: &'a [Input<'a>],
) -> CommandVerdict<'a> {
    let mut verdict = CommandVerdict::NoInput;
    // After `--`, a program reads no more options.
    let options_end = arguments
        .iter()
        .position(|argument| argument.as_ref() == "--")
        .unwrap_or(arguments.len());
    for input in inputs {
        if !has_two_characters(input.value) {
            continue;
        }
        if let Some(start) = program.find(input.value) {
            return CommandVerdict::Injection(CommandEvidence {
                input,
                span: start..start + input.value.len(),
                argument: Some(0),
                added: CommandAdded::Program,
            });
        }
        for (index, argument) in arguments.iter().enumerate() {
            let argument = argument.as_ref();
            let Some(start) = argument.find(input.value) else {
                continue;
            };
            verdict = CommandVerdict::Data;
            if start == 0 && index < options_end && input.value.starts_with('-') {
                return CommandVerdict::Injection(CommandEvidence {
                    input,
                    span: 0..input.value.len(),
                    argument: Some(index + 1),
                    added: CommandAdded::Option,
                });
            }
        }
    }
    verdict
}

fn has_two_characters(text: &str) -> bool {
    text.chars().nth(1).is_some()
}

/// The shape of a shell script, as a call site learns it: its words collapsed to one symbol
/// each (quoted or not), every operator, redirection and substitution kept. `getent hosts
/// a` and `getent hosts 'b c'` share a shape; `getent hosts a; id` does not.
pub fn script_fingerprint(script: &str) -> Fingerprint {
    let states = quoting_of(script);
    let mut hash = Fnv::new();
    let mut in_word = false;
    for (&byte, &(quoting, word_start)) in script.as_bytes().iter().zip(&states) {
        if quoting != Quoting::Unquoted {
            if !in_word {
                hash.symbol(b'W', b"", Case::Exact);
                in_word = true;
            }
            continue;
        }
        match special(byte, quoting, word_start) {
            Some(CommandAdded::Word) => in_word = false,
            Some(CommandAdded::Quote | CommandAdded::Option) | None => {
                if !in_word {
                    hash.symbol(b'W', b"", Case::Exact);
                    in_word = true;
                }
            }
            Some(_) => {
                hash.symbol(b'O', &[byte], Case::Exact);
                in_word = false;
            }
        }
    }
    Fingerprint::from_u64(hash.finish())
}

/// The shape of an argument vector, as a call site learns it: the program, how many
/// arguments follow, and which of them are options.
pub fn arguments_fingerprint<S: AsRef<str>>(program: &str, arguments: &[S]) -> Fingerprint {
    let mut hash = Fnv::new();
    hash.symbol(b'P', program.as_bytes(), Case::Exact);
    for argument in arguments {
        let argument = argument.as_ref();
        if argument.starts_with('-') {
            // The option's name, without a value glued to it (`--output=x`, `-ox`).
            let name = argument.split('=').next().unwrap_or(argument);
            hash.symbol(b'-', name.as_bytes(), Case::Exact);
        } else {
            hash.symbol(b'A', b"", Case::Exact);
        }
    }
    Fingerprint::from_u64(hash.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Source;

    fn script_verdict(script: &str, value: &str) -> Option<CommandAdded> {
        let inputs = [Input::new(Source::Query, "host", value)];
        match check_script(script, &inputs) {
            CommandVerdict::Injection(evidence) => Some(evidence.added),
            CommandVerdict::Data | CommandVerdict::NoInput => None,
        }
    }

    #[test]
    fn input_that_adds_shell_syntax_is_injection_and_its_benign_twin_is_not() {
        use CommandAdded::*;
        // (the script as built, the input, the verdict)
        let cases: &[(&str, &str, std::option::Option<CommandAdded>)] = &[
            ("getent hosts a; id", "a; id", Some(Separator)),
            ("getent hosts a && id", "a && id", Some(Separator)),
            ("getent hosts a&&id", "a&&id", Some(Separator)),
            ("getent hosts a|id", "a|id", Some(Pipe)),
            ("getent hosts a>/tmp/x", "a>/tmp/x", Some(Redirection)),
            ("getent hosts $(id)", "$(id)", Some(Substitution)),
            ("getent hosts `id`", "`id`", Some(Substitution)),
            ("getent hosts a\nid", "a\nid", Some(Separator)),
            ("getent hosts /etc/*", "/etc/*", Some(Glob)),
            ("getent hosts -s files", "-s files", Some(Option)),
            ("getent hosts a #x", "a #x", Some(Comment)),
            ("getent hosts '$(id)'", "$(id)", None),
            ("getent hosts 'a'; id #'", "a'; id #", Some(Separator)),
            ("getent hosts \"a$(id)\"", "a$(id)", Some(Substitution)),
            ("getent hosts \"a\\\"\"", "a\\\"", Some(Quote)),
            // Benign twins.
            ("getent hosts localhost", "localhost", None),
            ("getent hosts shop-01.internal", "shop-01.internal", None),
            ("getent hosts 'O Brien'", "O Brien", None),
            ("getent hosts \"O'Brien & Sons\"", "O'Brien & Sons", None),
            (
                "echo 'semi;colon|pipe>redirect'",
                "semi;colon|pipe>redirect",
                None,
            ),
            ("getent hosts a-b", "a-b", None),
            ("getent hosts 10.0.0.1", "10.0.0.1", None),
        ];
        for (script, value, expected) in cases {
            assert_eq!(
                script_verdict(script, value),
                *expected,
                "{script:?} with {value:?}"
            );
        }
    }

    #[test]
    fn argument_vectors_keep_the_program_and_the_options_the_code_chose() {
        let verdict = |program: &str, arguments: &[&str], value: &str| {
            let inputs = [Input::new(Source::Query, "host", value)];
            match check_arguments(program, arguments, &inputs) {
                CommandVerdict::Injection(evidence) => Some(evidence.added),
                CommandVerdict::Data | CommandVerdict::NoInput => None,
            }
        };
        assert_eq!(
            verdict("getent", &["hosts", "--service=x"], "--service=x"),
            Some(CommandAdded::Option)
        );
        assert_eq!(
            verdict("/usr/bin/id", &["hosts"], "/usr/bin/id"),
            Some(CommandAdded::Program)
        );
        // Benign twins: a value, even with shell syntax, is one argument; after `--` a dash
        // is no option.
        assert_eq!(verdict("getent", &["hosts", "a; id"], "a; id"), None);
        assert_eq!(verdict("getent", &["hosts", "--", "-x"], "-x"), None);
        assert_eq!(verdict("getent", &["hosts", "a-b"], "a-b"), None);
    }

    #[test]
    fn shapes_collapse_words_and_keep_syntax() {
        assert_eq!(
            script_fingerprint("getent hosts a"),
            script_fingerprint("getent hosts 'b c'")
        );
        assert_ne!(
            script_fingerprint("getent hosts a"),
            script_fingerprint("getent hosts a; id")
        );
        assert_eq!(
            arguments_fingerprint("getent", &["hosts", "a"]),
            arguments_fingerprint("getent", &["hosts", "b"])
        );
        assert_ne!(
            arguments_fingerprint("getent", &["hosts", "a"]),
            arguments_fingerprint("getent", &["hosts", "-s"])
        );
    }
}
