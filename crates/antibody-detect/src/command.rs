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

use std::ops::{ControlFlow, Range};

use crate::fingerprint::{Case, Fingerprint, Fnv};
use crate::input::{Input, has_two_characters};
use crate::occurrence::{Needle, each_occurrence};

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
    /// Outside quotes, at the top or inside `$(...)`, backticks or `${...}`.
    Unquoted,
    /// Inside `'...'`.
    Single,
    /// Inside `$'...'`, where a backslash escapes.
    AnsiC,
    /// Inside `"..."`.
    Double,
    /// After an unquoted `#`, to the end of the line.
    Comment,
    /// In the body of a here-document whose delimiter was unquoted: expansions work.
    Heredoc,
    /// In the body of a here-document whose delimiter was quoted: all literal.
    LiteralHeredoc,
}

/// Where one byte of a script stands.
#[derive(Clone, Copy, Debug)]
struct Place {
    quoting: Quoting,
    /// It begins a word (outside quotes).
    word_start: bool,
    /// A backslash before it makes it literal.
    escaped: bool,
}

/// A context the lexer is inside: the quoting, and for `$(` how many parentheses are open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Nest {
    Single,
    AnsiC,
    Double,
    Substitution { parens: usize },
    Backtick,
    Brace,
}

/// Where each byte of `script` stands, by a POSIX shell's rules: quotes, backslash escapes,
/// `$(...)`, backticks and `${...}` nested inside double quotes and each other, comments,
/// and here-document bodies.
fn places(script: &str) -> Vec<Place> {
    let mut lexer = ShellLexer {
        bytes: script.as_bytes(),
        places: Vec::with_capacity(script.len()),
        stack: Vec::new(),
        escaped: false,
        word_start: true,
        comment: false,
        pending: Vec::new(),
        heredoc: None,
        at: 0,
    };
    while lexer.at < lexer.bytes.len() {
        if lexer.heredoc.is_some() {
            lexer.heredoc_byte();
        } else {
            lexer.byte();
        }
    }
    lexer.places
}

/// The state of [`places`] between bytes.
struct ShellLexer<'s> {
    bytes: &'s [u8],
    places: Vec<Place>,
    stack: Vec<Nest>,
    escaped: bool,
    word_start: bool,
    comment: bool,
    /// Here-documents announced on the current line (delimiter, literal), last first.
    pending: Vec<(Vec<u8>, bool)>,
    /// The here-document whose body is being read.
    heredoc: Option<(Vec<u8>, bool)>,
    at: usize,
}

impl ShellLexer<'_> {
    fn push(&mut self, quoting: Quoting, word_start: bool, escaped: bool) {
        self.places.push(Place {
            quoting,
            word_start,
            escaped,
        });
    }

    /// One byte of a here-document body; a line equal to the delimiter ends it.
    fn heredoc_byte(&mut self) {
        let Some((delimiter, literal)) = self.heredoc.clone() else {
            return;
        };
        let (bytes, at) = (self.bytes, self.at);
        let line_start = at == 0 || bytes[at - 1] == b'\n';
        let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
        if line_start && bytes[at..line_end].trim_ascii_start() == delimiter.as_slice() {
            for _ in at..line_end {
                self.push(Quoting::Unquoted, false, false);
            }
            self.at = line_end;
            self.heredoc = None;
            self.word_start = true;
            return;
        }
        let quoting = if literal {
            Quoting::LiteralHeredoc
        } else {
            Quoting::Heredoc
        };
        self.push(quoting, false, self.escaped);
        if self.escaped {
            self.escaped = false;
        } else if !literal && bytes[at] == b'\\' {
            self.escaped = true;
        }
        self.at += 1;
    }

    /// One byte outside here-document bodies.
    fn byte(&mut self) {
        let byte = self.bytes[self.at];
        let quoting = match self.stack.last() {
            _ if self.comment => Quoting::Comment,
            Some(Nest::Single) => Quoting::Single,
            Some(Nest::AnsiC) => Quoting::AnsiC,
            Some(Nest::Double) => Quoting::Double,
            _ => Quoting::Unquoted,
        };
        let word_start = self.word_start && quoting == Quoting::Unquoted;
        self.push(quoting, word_start, self.escaped);
        self.word_start = false;
        self.at += 1;
        if self.escaped {
            self.escaped = false;
            return;
        }
        match quoting {
            Quoting::Comment => {
                if byte == b'\n' {
                    self.comment = false;
                    self.word_start = true;
                    self.heredoc = self.pending.pop();
                }
            }
            Quoting::Single => {
                if byte == b'\'' {
                    self.stack.pop();
                }
            }
            Quoting::AnsiC => match byte {
                b'\\' => self.escaped = true,
                b'\'' => {
                    self.stack.pop();
                }
                _ => {}
            },
            Quoting::Double => match byte {
                b'\\' => self.escaped = true,
                b'"' => {
                    self.stack.pop();
                }
                b'$' | b'`' => self.expansion(byte, quoting),
                _ => {}
            },
            _ => self.unquoted(byte, word_start),
        }
    }

    /// `$(`, `${`, `$'` or a backtick, opened in `quoting`.
    fn expansion(&mut self, byte: u8, quoting: Quoting) {
        let following = self.bytes.get(self.at).copied();
        let nest = match (byte, following) {
            (b'`', _) if self.stack.last() == Some(&Nest::Backtick) => {
                self.stack.pop();
                return;
            }
            (b'`', _) => {
                self.stack.push(Nest::Backtick);
                self.word_start = true;
                return;
            }
            (_, Some(b'(')) => Nest::Substitution { parens: 0 },
            (_, Some(b'{')) => Nest::Brace,
            (_, Some(b'\'')) if quoting == Quoting::Unquoted => Nest::AnsiC,
            _ => return,
        };
        self.stack.push(nest);
        self.push(quoting, false, false);
        self.at += 1;
        self.word_start = matches!(nest, Nest::Substitution { .. });
    }

    /// One byte outside quotes (at the top, or inside `$(...)`, backticks or `${...}`).
    fn unquoted(&mut self, byte: u8, word_start: bool) {
        match byte {
            b'\\' => self.escaped = true,
            b'\'' => self.stack.push(Nest::Single),
            b'"' => self.stack.push(Nest::Double),
            b'$' | b'`' => self.expansion(byte, Quoting::Unquoted),
            b'(' => {
                if let Some(Nest::Substitution { parens }) = self.stack.last_mut() {
                    *parens += 1;
                }
                self.word_start = true;
            }
            b')' => {
                match self.stack.last_mut() {
                    Some(Nest::Substitution { parens: 0 }) => {
                        self.stack.pop();
                    }
                    Some(Nest::Substitution { parens }) => *parens -= 1,
                    _ => {}
                }
                self.word_start = true;
            }
            b'}' if self.stack.last() == Some(&Nest::Brace) => {
                self.stack.pop();
            }
            b'#' if word_start => self.comment = true,
            b'<' if self.bytes.get(self.at) == Some(&b'<') => self.announce_heredoc(),
            b'\n' => {
                self.word_start = true;
                if self.stack.is_empty() {
                    self.heredoc = self.pending.pop();
                }
            }
            b' ' | b'\t' | b';' | b'&' | b'|' | b'<' | b'>' => self.word_start = true,
            _ => {}
        }
    }

    /// After `<`, at a second `<`: `<<WORD`, `<<-WORD`, `<<'WORD'`, `<<"WORD"` announce a
    /// body from the next line; `<<<` is a here-string.
    fn announce_heredoc(&mut self) {
        let bytes = self.bytes;
        let mut end = self.at + 1;
        self.word_start = true;
        if bytes.get(end) == Some(&b'<') {
            self.push(Quoting::Unquoted, false, false);
            self.at += 1;
            return;
        }
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        while bytes.get(end).is_some_and(|b| *b == b' ' || *b == b'\t') {
            end += 1;
        }
        let literal = matches!(bytes.get(end), Some(b'\'' | b'"'));
        let word: Vec<u8> = bytes[end..]
            .iter()
            .copied()
            .take_while(|b| !b" \t\n;&|<>()".contains(b))
            .filter(|b| !b"'\"\\".contains(b))
            .collect();
        if !word.is_empty() {
            self.pending.insert(0, (word, literal));
        }
    }
}

/// What `byte` adds where it stands, if it is not plain there. A backslash is judged by
/// the caller, which knows whether the byte it escapes belongs to the input.
fn special(byte: u8, place: Place) -> Option<CommandAdded> {
    if place.escaped {
        return None;
    }
    match place.quoting {
        Quoting::Single => (byte == b'\'').then_some(CommandAdded::Quote),
        Quoting::AnsiC => matches!(byte, b'\'' | b'\\').then_some(CommandAdded::Quote),
        Quoting::Comment | Quoting::LiteralHeredoc => {
            matches!(byte, b'\n' | b'\r').then_some(CommandAdded::Separator)
        }
        Quoting::Double | Quoting::Heredoc => match byte {
            b'"' if place.quoting == Quoting::Double => Some(CommandAdded::Quote),
            b'\\' => Some(CommandAdded::Quote),
            b'$' | b'`' => Some(CommandAdded::Substitution),
            b'\n' if place.quoting == Quoting::Heredoc => Some(CommandAdded::Separator),
            _ => None,
        },
        Quoting::Unquoted => match byte {
            // A NUL ends the script where C code reads it.
            b';' | b'&' | b'\n' | b'\r' | 0 => Some(CommandAdded::Separator),
            b'|' => Some(CommandAdded::Pipe),
            b'<' | b'>' => Some(CommandAdded::Redirection),
            b'$' | b'`' => Some(CommandAdded::Substitution),
            b'*' | b'?' | b'[' | b'{' | b'}' => Some(CommandAdded::Glob),
            b'~' if place.word_start => Some(CommandAdded::Glob),
            b'\'' | b'"' | b'\\' => Some(CommandAdded::Quote),
            b'#' if place.word_start => Some(CommandAdded::Comment),
            b'(' | b')' => Some(CommandAdded::Grouping),
            b' ' | b'\t' | 0x0b | 0x0c => Some(CommandAdded::Word),
            b'-' if place.word_start => Some(CommandAdded::Option),
            _ => None,
        },
    }
}

/// Bytes that change a script on their own: an input of one of them is judged too.
const SHELL_BYTES: &[u8] = b";&|<>`$*?[{}()'\"\\\n\r#~ \t";

/// Judges `script`, about to run in a shell (`sh -c script`), against the request's
/// `inputs`. Inputs are also found in the forms an application's own escaping gives them
/// (quotes doubled or backslashed), so that escaping which does not really enclose the
/// input is judged by where it lands.
pub fn check_script<'a>(script: &str, inputs: &'a [Input<'a>]) -> CommandVerdict<'a> {
    let mut places_of_script = None;
    let mut verdict = CommandVerdict::NoInput;
    for input in inputs {
        let single_shell_byte =
            input.value.len() == 1 && SHELL_BYTES.contains(&input.value.as_bytes()[0]);
        if !has_two_characters(input.value) && !single_shell_byte {
            continue;
        }
        let found = each_occurrence(script, Needle::new(input.value), |span| {
            verdict = CommandVerdict::Data;
            let places = places_of_script.get_or_insert_with(|| places(script));
            match added_at(script.as_bytes(), places, &span) {
                Some(added) => ControlFlow::Break(CommandEvidence {
                    input,
                    span,
                    argument: None,
                    added,
                }),
                None => ControlFlow::Continue(()),
            }
        });
        if let ControlFlow::Break(evidence) = found {
            return CommandVerdict::Injection(evidence);
        }
    }
    verdict
}

/// The most the bytes at `span` add where they land: a backslash is plain when the byte it
/// escapes is the input's too, and a quote when it escapes what follows the input.
fn added_at(bytes: &[u8], places: &[Place], span: &Range<usize>) -> Option<CommandAdded> {
    span.clone()
        .filter_map(|at| {
            let place = places[at];
            let escapes = bytes[at] == b'\\'
                && !place.escaped
                && !matches!(
                    place.quoting,
                    Quoting::Single | Quoting::Comment | Quoting::LiteralHeredoc
                );
            if escapes {
                return (at + 1 >= span.end).then_some(CommandAdded::Quote);
            }
            special(bytes[at], place)
        })
        .max_by_key(|added| added.weight())
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
        if supplies_program(program, input.value) {
            return CommandVerdict::Injection(CommandEvidence {
                input,
                span: 0..input.value.len(),
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

/// Whether `value` decides which program runs: it is the whole program, or its file name,
/// or the folder it is taken from (`/tmp/x/` + `tool`). A value merely found inside the
/// program's name (`en` in `getent`) decides nothing.
fn supplies_program(program: &str, value: &str) -> bool {
    let file_name = program.rsplit('/').next().unwrap_or(program);
    program == value || file_name == value || (value.contains('/') && program.starts_with(value))
}

/// The shape of a shell script, as a call site learns it: its words collapsed to one symbol
/// each (quoted or not), every operator, redirection and substitution kept. `getent hosts
/// a` and `getent hosts 'b c'` share a shape; `getent hosts a; id` does not.
pub fn script_fingerprint(script: &str) -> Fingerprint {
    let places = places(script);
    let mut hash = Fnv::new();
    let mut in_word = false;
    for (&byte, &place) in script.as_bytes().iter().zip(&places) {
        let syntax = match place.quoting {
            Quoting::Unquoted => special(byte, place),
            _ => None,
        };
        match syntax {
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
            // An escaped quote the input brings along stays inside the string.
            ("getent hosts \"a\\\"\"", "a\\\"", None),
            // Inside a substitution inside double quotes, unquoted again.
            ("out=\"$(getent hosts a; id)\"", "a; id", Some(Separator)),
            ("out=\"`getent hosts a; id`\"", "a; id", Some(Separator)),
            // A quote in a comment opens nothing.
            ("# don't\ngetent hosts a; id", "a; id", Some(Separator)),
            // A here-document body expands substitutions.
            ("cat <<EOF\nHere's $(id)\nEOF", "$(id)", Some(Substitution)),
            ("cat <<'EOF'\nHere's $(id)\nEOF", "$(id)", None),
            // Escaping that does not really enclose the input.
            (
                "getent hosts \"a\\\"$(id)\"",
                "a\"$(id)",
                Some(Substitution),
            ),
            ("echo 'x\\'; id; #'", "x'; id; #", Some(Separator)),
            // A single byte that changes the script.
            ("rm -f -- uploads/*", "*", Some(Glob)),
            // Benign twins.
            ("getent hosts \"it\\'s\"", "it's", None),
            ("getent hosts it\\'s", "it's", None),
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
        assert_eq!(
            verdict("/tmp/uploads/tool", &["x"], "/tmp/uploads/"),
            Some(CommandAdded::Program)
        );
        // Benign twins: a value, even with shell syntax, is one argument; after `--` a dash
        // is no option; a value inside the program's name (`en`, from `Accept-Language`)
        // chose nothing.
        assert_eq!(verdict("getent", &["hosts", "--", "x"], "en"), None);
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
