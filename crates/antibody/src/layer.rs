//! The request-context layer for axum 0.8 (any tower stack whose inner service takes
//! `Request<axum::body::Body>`).
//!
//! Add it with `Router::layer(agent.layer())`: inside the router it sees the matched route
//! and the path parameters. For each request it keeps what the inputs are decoded from (a
//! sink decodes them when it first asks), makes the [`RequestContext`] current around the
//! handler and around the polling of the response body, and answers 403 when a sink
//! blocked, whatever the handler did with the error.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use antibody_detect::{KEY_SUFFIX, Source};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, COOKIE, FORWARDED, HeaderName,
    HeaderValue, LOCATION, PROXY_AUTHORIZATION,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::agent::Agent;
use crate::config::Mode;
use crate::context::{InputTable, MAX_INPUTS, RequestContext, RequestInput};
use crate::event::EventId;

/// The header that carries the id of the event behind a 403.
pub const EVENT_HEADER: &str = "x-antibody-event";

impl Agent {
    /// The layer that gives sinks their request context.
    pub fn layer(&self) -> AntibodyLayer {
        AntibodyLayer {
            agent: self.clone(),
        }
    }
}

/// The request-context layer, from [`Agent::layer`]. Add it with `Router::layer`, so that it
/// runs inside routing and sees the matched route and the path parameters. For each request
/// it keeps what the inputs are decoded from, makes the [`RequestContext`] current around the
/// handler and around the polling of the response body, and answers 403 when a sink blocked,
/// whatever the handler did with the error.
#[derive(Clone, Debug)]
pub struct AntibodyLayer {
    agent: Agent,
}

impl<S> Layer<S> for AntibodyLayer {
    type Service = AntibodyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AntibodyService {
            inner,
            agent: self.agent.clone(),
        }
    }
}

/// The service [`AntibodyLayer`] wraps around the application.
#[derive(Clone, Debug)]
pub struct AntibodyService<S> {
    inner: S,
    agent: Agent,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ResBody> Service<Request<Body>> for AntibodyService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    ResBody: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let config = self.agent.config();
        if config.mode == Mode::Off && config.sink_modes.values().all(|m| *m == Mode::Off) {
            return Answering::Passthrough {
                future: self.inner.call(request),
            }
            .into();
        }
        let (mut parts, body) = request.into_parts();
        // A body the layer cannot read as the application will: compressed, and the
        // application (or a layer inside this one) decodes it. Its bytes are still read as
        // they are, for an application that does not decode them.
        let encoded = !body.is_end_stream()
            && parts
                .headers
                .get(CONTENT_ENCODING)
                .is_some_and(|coding| !coding.as_bytes().eq_ignore_ascii_case(b"identity"));
        let format = body_format(parts.headers.get(CONTENT_TYPE));
        if body.is_end_stream() || encoded || format == BodyFormat::Other {
            // Nothing to read first: the handler is called at once, with its context. Any
            // other body is copied as the handler reads it, and its inputs join when it ends.
            let context = Arc::new(request_context(
                &self.agent,
                &mut parts,
                Vec::new(),
                encoded,
            ));
            let body = if body.is_end_stream() {
                body
            } else {
                let format = if encoded { BodyFormat::Other } else { format };
                CapturedBody::unread(format, body).into_replay(&context, &self.agent)
            };
            let future = self.inner.call(Request::from_parts(parts, body));
            return Answering::Scoped {
                future: RequestContext::scope(Arc::clone(&context), future),
                context: Some(context),
            }
            .into();
        }
        // The handler is called later: the ready service goes with the future, and a clone
        // takes its place (tower's rule: only the service `poll_ready` prepared may be called).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let agent = self.agent.clone();
        Answering::Reading {
            future: Box::pin(async move {
                let captured = capture_body(format, body, agent.config().body_cap).await;
                let context = Arc::new(request_context(
                    &agent,
                    &mut parts,
                    captured.inputs(),
                    false,
                ));
                let body = captured.into_replay(&context, &agent);
                let request = Request::from_parts(parts, body);
                let response =
                    RequestContext::scope(Arc::clone(&context), inner.call(request)).await?;
                Ok(answer(response, context))
            }),
        }
        .into()
    }
}

pin_project_lite::pin_project! {
    /// The future of [`AntibodyService`]'s answer.
    pub struct ResponseFuture<F> {
        #[pin]
        state: Answering<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = AnsweringProjection]
    enum Answering<F> {
        // The agent is off: the application's answer as it is.
        Passthrough { #[pin] future: F },
        // The handler, run with its request context current.
        Scoped {
            #[pin]
            future: TaskLocalFuture<Arc<RequestContext>, F>,
            // Taken when the answer is ready.
            context: Option<Arc<RequestContext>>,
        },
        // A form, JSON or multipart body is read before the handler runs.
        Reading { future: BoxFuture<Result<Response<Body>, Infallible>> },
    }
}

impl<F> From<Answering<F>> for ResponseFuture<F> {
    fn from(state: Answering<F>) -> Self {
        ResponseFuture { state }
    }
}

impl<F, ResBody> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, Infallible>>,
    ResBody: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AnsweringProjection::Passthrough { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(Body::new))),
            AnsweringProjection::Scoped { future, context } => {
                let response = std::task::ready!(future.poll(cx))?;
                let context = context
                    .take()
                    .expect("a scoped answer is polled to its end once");
                Poll::Ready(Ok(answer(response, context)))
            }
            AnsweringProjection::Reading { future } => future.as_mut().poll(cx),
        }
    }
}

/// The application's answer, or the 403 when a sink blocked or the answer redirects where
/// an input sent it off the site; a body streamed after the handler returns is polled with
/// the request context current.
fn answer<B>(response: Response<B>, context: Arc<RequestContext>) -> Response<Body>
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<axum::BoxError>,
{
    if let Some(event) = context.blocked() {
        return blocked_response(event, context.wants_json());
    }
    if response.status().is_redirection() {
        let location = response.headers().get(LOCATION);
        let agent = context.agent();
        if let (Some(location), Some(agent)) = (location, agent) {
            let location = String::from_utf8_lossy(location.as_bytes());
            if let Err(blocked) = agent.check_redirect(&location, &context) {
                return blocked_response(blocked.event, context.wants_json());
            }
        }
    }
    // A body whose length is known is already in memory: polling it runs no code, so it
    // needs no context (and no box around it).
    if response.body().size_hint().exact().is_some() {
        return response.map(Body::new);
    }
    response.map(|body| Body::new(ContextBody { body, context }))
}

/// The 403 that replaces the application's answer when a sink blocked.
fn blocked_response(event: EventId, json: bool) -> Response<Body> {
    let (content_type, body) = if json {
        (
            "application/json",
            format!("{{\"error\":\"blocked by Antibody\",\"event\":\"{event}\"}}"),
        )
    } else {
        (
            "text/html; charset=utf-8",
            format!(
                "<!doctype html>\n<html><head><title>403 Forbidden</title></head><body>\n\
                 <h1>Request blocked</h1>\n<p>This request was blocked by Antibody to protect the application.</p>\n\
                 <p>Event id: <code>{event}</code></p>\n</body></html>\n"
            ),
        )
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&event.to_string()) {
        headers.insert(HeaderName::from_static(EVENT_HEADER), value);
    }
    response
}

/// How a request body is read for inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum BodyFormat {
    Form,
    Json,
    /// `multipart/form-data`: its parts lie between lines that carry the boundary.
    Multipart {
        boundary: Box<str>,
    },
    /// Any other type, or none.
    Other,
}

/// The format a body is read in, by its `Content-Type`, parsed as axum and multer parse it:
/// at least every type their extractors accept for forms, JSON and multipart.
fn body_format(content_type: Option<&HeaderValue>) -> BodyFormat {
    let Some(content_type) = content_type.and_then(|value| value.to_str().ok()) else {
        return BodyFormat::Other;
    };
    let parsed = content_type.parse::<mime::Mime>().ok();
    match parsed {
        // Before the form's prefix: `application/x-www-form-urlencoded+json` is JSON to
        // axum's `Json` (and a form to its `Form`, which the fallback reading covers).
        Some(parsed)
            if parsed.type_() == mime::APPLICATION
                && (parsed.subtype() == mime::JSON || parsed.suffix() == Some(mime::JSON)) =>
        {
            BodyFormat::Json
        }
        Some(parsed)
            if parsed.type_() == mime::MULTIPART && parsed.subtype() == mime::FORM_DATA =>
        {
            parsed
                .get_param(mime::BOUNDARY)
                .map_or(BodyFormat::Other, |boundary| BodyFormat::Multipart {
                    boundary: boundary.as_str().into(),
                })
        }
        // axum reads a form from any type that begins with the form's name
        // (`application/x-www-form-urlencodedX` too).
        _ if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded") =>
        {
            BodyFormat::Form
        }
        _ => BodyFormat::Other,
    }
}

/// The most bytes of a request body inspected while the handler reads it, beyond the part
/// captured before the handler runs; past it, the shortfall is reported and the request is
/// marked as carrying inputs the agent did not inspect.
const INSPECTION_LIMIT: usize = 16 * 1024 * 1024;

/// What was read of a request body before the handler runs.
struct CapturedBody {
    format: BodyFormat,
    prefix: Bytes,
    held: Vec<Result<Frame<Bytes>, axum::Error>>,
    /// The unread rest, or `None` when the whole body was read.
    rest: Option<Body>,
}

impl CapturedBody {
    /// A body none of which was read before the handler runs.
    fn unread(format: BodyFormat, body: Body) -> Self {
        CapturedBody {
            format,
            prefix: Bytes::new(),
            held: Vec::new(),
            rest: Some(body),
        }
    }

    /// The inputs in what was read: all of them when the body was read whole.
    fn inputs(&self) -> Vec<RequestInput> {
        match &self.format {
            format if self.rest.is_none() => body_inputs(format, &self.prefix),
            // A form's leading fields are whole except perhaps the last, and so are the parts
            // of a multipart body that a boundary closes; the rest are inspected when the
            // handler reads them.
            BodyFormat::Form => form_inputs(&self.prefix, Source::Form),
            BodyFormat::Multipart { boundary } => multipart_inputs(&self.prefix, boundary, false),
            BodyFormat::Json | BodyFormat::Other => Vec::new(),
        }
    }

    /// A body that replays what was read, then streams the rest. The rest is also copied as
    /// it passes, and its inputs join the request context when the body ends: padding a body
    /// past the cap hides nothing.
    fn into_replay(self, context: &Arc<RequestContext>, agent: &Agent) -> Body {
        let tee = match &self.rest {
            Some(_) => Some(Tee {
                format: self.format.clone(),
                copy: BytesMut::from(&self.prefix[..]),
                context: Arc::clone(context),
                agent: agent.clone(),
                overflowed: false,
            }),
            None => None,
        };
        Body::new(ReplayBody {
            prefix: (!self.prefix.is_empty()).then_some(self.prefix),
            held: self.held,
            rest: self.rest,
            tee,
        })
    }
}

/// The inputs of a whole body: the fields its format holds, and, since extractors such as
/// `String` and `Bytes` take a body whatever its type says and the application parses it as
/// it likes, the body whole and the JSON or form it looks like.
fn body_inputs(format: &BodyFormat, bytes: &[u8]) -> Vec<RequestInput> {
    let mut inputs = match format {
        BodyFormat::Form => form_inputs(bytes, Source::Form),
        BodyFormat::Json => json_inputs(bytes),
        BodyFormat::Multipart { boundary } => multipart_inputs(bytes, boundary, true),
        BodyFormat::Other => Vec::new(),
    };
    let text = String::from_utf8_lossy(bytes);
    let looks_like_json = text.trim_start().starts_with(['{', '[']);
    let looks_like_form = !looks_like_json && text.contains('=');
    inputs.push(RequestInput {
        source: Source::Body,
        name: WHOLE_BODY.to_owned(),
        value: text.into_owned(),
    });
    if looks_like_json && *format != BodyFormat::Json {
        inputs.extend(json_inputs(bytes));
    } else if looks_like_form && *format != BodyFormat::Form {
        inputs.extend(form_inputs(bytes, Source::Form));
    }
    inputs
}

/// Reads up to `cap` bytes of a form, JSON or multipart body before the handler runs.
async fn capture_body(format: BodyFormat, mut body: Body, cap: usize) -> CapturedBody {
    let mut prefix = BytesMut::new();
    let mut held = Vec::new();
    let mut complete = false;
    while prefix.len() < cap {
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => prefix.extend_from_slice(&data),
                Err(frame) => held.push(Ok(frame)),
            },
            Some(Err(error)) => {
                held.push(Err(error));
                break;
            }
            None => {
                complete = true;
                break;
            }
        }
    }
    // The frame that reached the cap may have been the last one: the document is then whole.
    complete = complete || (held.iter().all(Result::is_ok) && body.is_end_stream());
    CapturedBody {
        format,
        prefix: prefix.freeze(),
        held,
        rest: (!complete).then_some(body),
    }
}

/// The copy of a body the handler reads past what was captured, read for inputs when it ends.
struct Tee {
    format: BodyFormat,
    copy: BytesMut,
    context: Arc<RequestContext>,
    agent: Agent,
    overflowed: bool,
}

impl Tee {
    fn pass(&mut self, data: &Bytes) {
        // Past the limit nothing more is copied: later pieces would not follow on.
        if !self.overflowed && self.copy.len() + data.len() <= INSPECTION_LIMIT {
            self.copy.extend_from_slice(data);
        } else {
            self.overflowed = true;
        }
    }

    fn finish(&mut self) {
        let copy = std::mem::take(&mut self.copy);
        // A JSON document cut short is read leniently, as any JSON the strict parser refuses.
        let inputs = body_inputs(&self.format, &copy);
        let mut table = InputTable::with_capacity(copy.len(), inputs.len());
        for input in &inputs {
            table.push(input.source, &input.name, &input.value);
        }
        if self.overflowed {
            table.mark_overflowed();
        }
        self.context.add_body_inputs(table);
        if self.overflowed {
            self.agent.note_error(
                crate::config::SinkKind::Sql,
                None,
                format!(
                    "a request body larger than {INSPECTION_LIMIT} bytes was inspected only in part"
                ),
            );
        }
    }
}

/// The `name=value` pairs of a query string or a form body, decoded: `+` is a space, `%XX`
/// a byte, and what is not UTF-8 becomes U+FFFD. A part with nothing to decode is borrowed.
fn form_pairs(bytes: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    bytes
        .split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            (form_decode(name), form_decode(value))
        })
}

fn form_decode(bytes: &[u8]) -> Cow<'_, str> {
    if !bytes.iter().any(|&byte| byte == b'%' || byte == b'+') {
        return match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        };
    }
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    match String::from_utf8(decoded) {
        Ok(text) => Cow::Owned(text),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

/// The fields of a form, one more than [`MAX_INPUTS`] at most, so that the context knows
/// when there were too many.
fn form_inputs(bytes: &[u8], source: Source) -> Vec<RequestInput> {
    let mut inputs = Vec::new();
    for (name, value) in form_pairs(bytes) {
        if inputs.len() > MAX_INPUTS {
            break;
        }
        // The field's name too, when it could be more than a name: applications that
        // iterate over fields paste names.
        if !is_plain_word(&name) {
            inputs.push(RequestInput {
                source,
                name: format!("{name}{KEY_SUFFIX}"),
                value: name.clone().into_owned(),
            });
        }
        inputs.push(RequestInput {
            source,
            name: name.into_owned(),
            value: value.into_owned(),
        });
    }
    inputs
}

fn json_inputs(bytes: &[u8]) -> Vec<RequestInput> {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        // The application's parser may take what this one refuses: it skips fields it does
        // not know without checking their text, and nests without limit.
        return json_scalars(bytes);
    };
    let mut inputs = Vec::new();
    json_leaves(&document, "", &mut inputs);
    inputs
}

/// The fields of a `multipart/form-data` body: each part's content under its name, and the
/// name of an uploaded file. A part no boundary closes yet is read only when `whole`: the
/// body has ended, and the application's parser may have taken it.
fn multipart_inputs(bytes: &[u8], boundary: &str, whole: bool) -> Vec<RequestInput> {
    let delimiter = format!("\r\n--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut inputs = Vec::new();
    // The first boundary may open the body, without a line break before it.
    let Some(first) = memchr::memmem::find(bytes, &delimiter[2..]) else {
        return inputs;
    };
    let mut at = first + delimiter.len() - 2;
    // After each boundary: `--` closes the body, anything else up to the line's end is
    // padding, and the part runs to the next boundary.
    while !bytes[at..].starts_with(b"--") && inputs.len() <= MAX_INPUTS {
        let Some(line_end) = memchr::memchr(b'\n', &bytes[at..]) else {
            break;
        };
        let start = at + line_end + 1;
        let end = memchr::memmem::find(&bytes[start..], delimiter).map(|offset| start + offset);
        match end {
            Some(end) => part_inputs(&bytes[start..end], &mut inputs),
            None if whole => part_inputs(&bytes[start..], &mut inputs),
            None => {}
        }
        let Some(end) = end else { break };
        at = end + delimiter.len();
    }
    inputs
}

/// The inputs of one multipart part: its content, named by its `Content-Disposition`, and
/// the file name it gives. The content is decoded as multer's `Field::text` decodes it (the
/// part's charset, a byte-order mark), and read as UTF-8 too, as `Field::bytes` hands it.
fn part_inputs(part: &[u8], inputs: &mut Vec<RequestInput>) {
    let (head, content) = match memchr::memmem::find(part, b"\r\n\r\n") {
        Some(at) => (&part[..at], &part[at + 4..]),
        None => (part, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let header = |wanted: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.trim())
    };
    let mut name = String::new();
    let mut file_names = Vec::new();
    if let Some(disposition) = header("content-disposition") {
        for (key, value) in disposition
            .split(';')
            .skip(1)
            .filter_map(|parameter| parameter.split_once('='))
        {
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "name" => value.clone_into(&mut name),
                "filename" => file_names.push(value.to_owned()),
                // RFC 5987: `UTF-8''caf%C3%A9.txt`.
                "filename*" => {
                    let encoded = value.rsplit('\'').next().unwrap_or(value);
                    let decoded = percent_encoding::percent_decode_str(encoded);
                    file_names.push(decoded.decode_utf8_lossy().into_owned());
                }
                _ => {}
            }
        }
    }
    for file_name in file_names {
        inputs.push(RequestInput {
            source: Source::Form,
            name: format!("{name} (file name)"),
            value: file_name,
        });
    }
    let charset = header("content-type")
        .and_then(|content_type| content_type.parse::<mime::Mime>().ok())
        .and_then(|content_type| {
            let label = content_type.get_param(mime::CHARSET)?;
            encoding_rs::Encoding::for_label(label.as_str().as_bytes())
        })
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = charset.decode(content);
    let raw = String::from_utf8_lossy(content);
    if text != raw {
        inputs.push(RequestInput {
            source: Source::Form,
            name: name.clone(),
            value: raw.into_owned(),
        });
    }
    inputs.push(RequestInput {
        source: Source::Form,
        value: text.into_owned(),
        name,
    });
}

/// The name of a whole body, as one input.
const WHOLE_BODY: &str = "(body)";

/// The name of an input found in JSON text that does not parse.
const JSON_TEXT: &str = "(json text)";

/// Every string and number in a JSON text, whether or not it parses: strings decoded, with
/// what is not UTF-8 and lone surrogates as U+FFFD; one more than [`MAX_INPUTS`] at most.
fn json_scalars(bytes: &[u8]) -> Vec<RequestInput> {
    let mut inputs = Vec::new();
    let mut at = 0;
    while at < bytes.len() && inputs.len() <= MAX_INPUTS {
        let start = at;
        let value = match bytes[at] {
            b'"' => {
                let (text, end) = json_string(bytes, at + 1);
                at = end;
                text
            }
            b'-' | b'0'..=b'9' => {
                at += 1;
                while at < bytes.len()
                    && matches!(bytes[at], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    at += 1;
                }
                String::from_utf8_lossy(&bytes[start..at]).into_owned()
            }
            _ => {
                at += 1;
                continue;
            }
        };
        inputs.push(RequestInput {
            source: Source::Json,
            name: JSON_TEXT.to_owned(),
            value,
        });
    }
    inputs
}

/// A JSON string's text from `start` (just past its opening quote), decoded, and where
/// the text after its closing quote begins.
fn json_string(bytes: &[u8], start: usize) -> (String, usize) {
    let mut text = Vec::new();
    let mut at = start;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            b'"' => break,
            b'\\' => {
                let Some(&escape) = bytes.get(at) else { break };
                at += 1;
                let decoded = match escape {
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'u' => {
                        let (decoded, end) = json_escaped_char(bytes, at);
                        at = end;
                        decoded
                    }
                    other => char::from(other),
                };
                let mut buffer = [0; 4];
                text.extend_from_slice(decoded.encode_utf8(&mut buffer).as_bytes());
            }
            _ => text.push(byte),
        }
    }
    (String::from_utf8_lossy(&text).into_owned(), at)
}

/// The character of a `\uXXXX` escape whose digits start at `at` (a surrogate pair takes
/// two escapes), and where the text after it begins.
fn json_escaped_char(bytes: &[u8], at: usize) -> (char, usize) {
    let unit = |at: usize| {
        let digits = bytes.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let Some(first) = unit(at) else {
        return (char::REPLACEMENT_CHARACTER, at);
    };
    let paired = (0xD800..0xDC00).contains(&first)
        && bytes.get(at + 4..at + 6) == Some(b"\\u")
        && unit(at + 6).is_some_and(|second| (0xDC00..0xE000).contains(&second));
    if paired {
        let second = unit(at + 6).unwrap_or(0xDC00);
        let units = [first, second];
        let decoded = char::decode_utf16(units).next().and_then(Result::ok);
        return (decoded.unwrap_or(char::REPLACEMENT_CHARACTER), at + 10);
    }
    let decoded = char::decode_utf16([first]).next().and_then(Result::ok);
    (decoded.unwrap_or(char::REPLACEMENT_CHARACTER), at + 4)
}

/// Whether `text` is one plain word (letters, digits, `_`). Such a field name or path
/// segment can only ever be a name, or part of one, where it lands: no structure of its own
/// to add, and the application's own words (`id`, `products`) would otherwise stand for
/// inputs in every statement that names them, which keeps those statements from being
/// remembered as harmless.
fn is_plain_word(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// The longest name a JSON leaf keeps: a deeper path keeps its end, where the leaf's own
/// key is, so that names cannot grow with the document's depth.
const MAX_NAME: usize = 256;

fn capped_name(name: String) -> String {
    if name.len() <= MAX_NAME {
        return name;
    }
    let mut start = name.len() - MAX_NAME;
    while !name.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &name[start..])
}

/// Every leaf of a JSON document, named by its path (`items[0].name`); object keys are
/// inputs too, since applications paste them as column names. `serde_json` refuses documents
/// nested more than 128 deep, which bounds the recursion.
fn json_leaves(value: &serde_json::Value, path: &str, inputs: &mut Vec<RequestInput>) {
    // One more than the most kept, so that the context knows when there were too many.
    if inputs.len() > MAX_INPUTS {
        return;
    }
    let mut leaf = |value: String| {
        inputs.push(RequestInput {
            source: Source::Json,
            name: path.to_owned(),
            value,
        });
    };
    match value {
        serde_json::Value::String(text) => leaf(text.clone()),
        serde_json::Value::Number(number) => leaf(number.to_string()),
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                json_leaves(item, &capped_name(format!("{path}[{index}]")), inputs);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                let child = capped_name(if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                });
                if inputs.len() <= MAX_INPUTS && !is_plain_word(key) {
                    inputs.push(RequestInput {
                        source: Source::Json,
                        name: format!("{child}{KEY_SUFFIX}"),
                        value: key.clone(),
                    });
                }
                json_leaves(item, &child, inputs);
            }
        }
    }
}

/// The context of a request whose body yielded `body` (so far), or could not be read at all
/// (`body_uninspected`).
fn request_context(
    agent: &Agent,
    parts: &mut Parts,
    body: Vec<RequestInput>,
    body_uninspected: bool,
) -> RequestContext {
    let route = parts.extensions.get::<MatchedPath>().cloned();
    // Only a route with captures (`/items/{id}`) has parameters to extract.
    let params = match &route {
        Some(route) if !route.as_str().contains('{') => None,
        _ => path_params(parts),
    };
    let request = CapturedRequest {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        route,
        params,
        headers: HeaderCopy::of(&parts.headers),
        body,
        body_uninspected,
    };
    RequestContext::captured(request, client_ip(agent, parts), agent)
}

/// The path parameters the router matched. Their extractor is ready at once, so it is polled
/// once here rather than awaited.
fn path_params(parts: &mut Parts) -> Option<RawPathParams> {
    let extraction = RawPathParams::from_request_parts(parts, &());
    match std::pin::pin!(extraction).poll(&mut Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(params) => params.ok(),
        Poll::Pending => None,
    }
}

/// What the request context keeps of a request: the handler takes the request, and copying
/// these parts shares their bytes rather than copying them. The inputs are decoded from them
/// when a sink first asks.
#[derive(Debug)]
pub(crate) struct CapturedRequest {
    method: Method,
    uri: Uri,
    route: Option<MatchedPath>,
    params: Option<RawPathParams>,
    headers: HeaderCopy,
    /// The inputs of a body read before the handler ran.
    body: Vec<RequestInput>,
    /// Whether the body could not be read for inputs (it is compressed).
    body_uninspected: bool,
}

impl CapturedRequest {
    pub(crate) fn method(&self) -> &str {
        self.method.as_str()
    }

    pub(crate) fn path(&self) -> &str {
        self.uri.path()
    }

    pub(crate) fn route(&self) -> Option<&str> {
        self.route.as_ref().map(MatchedPath::as_str)
    }

    /// Whether the client asked for JSON rather than a page.
    pub(crate) fn wants_json(&self) -> bool {
        self.headers.get(ACCEPT.as_str()).is_some_and(accepts_json)
    }

    /// The inputs: query parameters, path parameters, headers (and the credentials they
    /// carry), cookies and the body's fields.
    pub(crate) fn decode(&self) -> InputTable {
        let query = self.uri.query().unwrap_or("");
        let params = || self.params.iter().flat_map(RawPathParams::iter);
        // Decoding only shortens the query; every other input is copied as it is.
        let text_bytes = query.len()
            + params().map(|(n, v)| n.len() + v.len()).sum::<usize>()
            + self.headers.text_len()
            + self
                .body
                .iter()
                .map(|input| input.name.len() + input.value.len())
                .sum::<usize>();
        let count = query.bytes().filter(|&byte| byte == b'&').count()
            + 1
            + params().count()
            + self.headers.len()
            + self.body.len();
        let mut table = InputTable::with_capacity(text_bytes, count);
        for (name, value) in form_pairs(query.as_bytes()) {
            // The parameter's name too, when it could be more than a name: applications that
            // iterate over parameters paste names.
            if !is_plain_word(&name) {
                table.push(Source::Query, &format!("{name}{KEY_SUFFIX}"), &name);
            }
            table.push(Source::Query, &name, &value);
        }
        for (name, value) in params() {
            table.push(Source::Path, name, value);
        }
        // Each segment of the path, decoded, for handlers that read the path themselves
        // (fallbacks, prefixes stripped by hand), unless it is a plain word.
        for segment in self.uri.path().split('/') {
            if !is_plain_word(segment) {
                let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
                table.push(Source::Path, PATH_SEGMENT, &decoded);
            }
        }
        for (name, value) in self.headers.iter() {
            // Bytes that are not UTF-8 become U+FFFD, as they do for an application that
            // reads the header leniently.
            let value = String::from_utf8_lossy(value);
            if name == COOKIE.as_str() {
                for (name, value) in value.split(';').filter_map(|pair| pair.split_once('=')) {
                    let value = value.trim();
                    push_decoded(&mut table, Source::Cookie, name.trim(), value);
                    // A quoted value, as cookie parsers hand it over without its quotes.
                    if let Some(unquoted) = value
                        .strip_prefix('"')
                        .and_then(|value| value.strip_suffix('"'))
                    {
                        push_decoded(&mut table, Source::Cookie, name.trim(), unquoted);
                    }
                }
            } else {
                push_decoded(&mut table, Source::Header, name, &value);
                if name == AUTHORIZATION.as_str() || name == PROXY_AUTHORIZATION.as_str() {
                    push_credentials(&mut table, name, &value);
                }
                // Each element of a list (`X-Forwarded-For: a, b`, `Forwarded: for=a;
                // proto=b`), as applications that take one element read it.
                if value.contains([',', ';']) {
                    for element in value.split([',', ';']) {
                        let element = element.trim();
                        push_decoded(&mut table, Source::Header, name, element);
                        if let Some((_, parameter)) = element.split_once('=') {
                            let parameter = parameter.trim().trim_matches('"');
                            table.push(Source::Header, name, parameter);
                        }
                    }
                }
            }
        }
        for input in &self.body {
            table.push(input.source, &input.name, &input.value);
        }
        if self.body_uninspected {
            table.mark_overflowed();
        }
        table
    }
}

/// The name of each segment of the request's path, as an input.
const PATH_SEGMENT: &str = "(path segment)";

/// Adds a header or cookie value and, when it holds `%` escapes, the value they decode to:
/// applications decode such values themselves (encoded cookies, above all).
fn push_decoded(table: &mut InputTable, source: Source, name: &str, value: &str) {
    table.push(source, name, value);
    if value.contains('%') {
        let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        if decoded != value {
            table.push(source, name, &decoded);
        }
    }
}

/// Adds the credentials of an `Authorization` header (`Bearer <token>`), and for the
/// `Basic` scheme the user name and password they encode.
fn push_credentials(table: &mut InputTable, header: &str, value: &str) {
    use base64::Engine as _;
    // Padding is optional here: some decoders accept credentials without it.
    const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let Some((scheme, credentials)) = value.trim().split_once(char::is_whitespace) else {
        return;
    };
    let credentials = credentials.trim();
    table.push(
        Source::Header,
        &format!("{header} (credentials)"),
        credentials,
    );
    if !scheme.eq_ignore_ascii_case("basic") {
        return;
    }
    let Ok(decoded) = BASE64.decode(credentials) else {
        return;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    match decoded.split_once(':') {
        Some((user, password)) => {
            table.push(Source::Header, &format!("{header} (user)"), user);
            table.push(Source::Header, &format!("{header} (password)"), password);
        }
        None => table.push(Source::Header, &format!("{header} (user)"), &decoded),
    }
}

/// Whether an `Accept` header asks for JSON rather than a page.
fn accepts_json(accept: &[u8]) -> bool {
    std::str::from_utf8(accept).is_ok_and(|accept| {
        accept.contains("json") && !accept.trim_start().starts_with("text/html")
    })
}

/// A request's headers, copied into one buffer as `name:value` lines: one allocation, where
/// a `HeaderMap` clone takes several. Names hold no `:` and values no line break, so the
/// lines read back exactly.
#[derive(Debug)]
struct HeaderCopy {
    text: Vec<u8>,
    count: usize,
}

impl HeaderCopy {
    fn of(headers: &HeaderMap) -> Self {
        let size = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 2)
            .sum();
        let mut text = Vec::with_capacity(size);
        for (name, value) in headers {
            text.extend_from_slice(name.as_str().as_bytes());
            text.push(b':');
            text.extend_from_slice(value.as_bytes());
            text.push(b'\n');
        }
        HeaderCopy {
            text,
            count: headers.len(),
        }
    }

    /// Each header's name (lowercase) and value, in the order they came.
    fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.text.split(|&byte| byte == b'\n').filter_map(|line| {
            let colon = line.iter().position(|&byte| byte == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            Some((name, &line[colon + 1..]))
        })
    }

    /// The first value of the header `name` (lowercase).
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(found, _)| *found == name)
            .map(|(_, value)| value)
    }

    /// The bytes of every name and value.
    fn text_len(&self) -> usize {
        self.text.len().saturating_sub(2 * self.count)
    }

    fn len(&self) -> usize {
        self.count
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the last address
/// in its forwarding headers that is not itself a trusted proxy.
fn client_ip(agent: &Agent, parts: &Parts) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let config = agent.config();
    if !config.trusts_proxy(peer) {
        return Some(peer);
    }
    let forwarded_for = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok());
    let forwarded = parts
        .headers
        .get_all(FORWARDED)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split([',', ';']))
        .filter_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            let value = value.trim_matches('"');
            let host = value
                .strip_prefix('[')
                .map_or(value, |v| v.split(']').next().unwrap_or(v));
            let host = if host.matches(':').count() == 1 {
                host.split(':').next()?
            } else {
                host
            };
            key.eq_ignore_ascii_case("for")
                .then(|| host.parse::<IpAddr>().ok())
                .flatten()
        });
    let hops: Vec<IpAddr> = forwarded.chain(forwarded_for).collect();
    Some(
        hops.iter()
            .rev()
            .copied()
            .find(|hop| !config.trusts_proxy(*hop))
            .unwrap_or(peer),
    )
}

/// A request body that yields captured bytes first, then the unread rest.
struct ReplayBody {
    prefix: Option<Bytes>,
    held: Vec<Result<Frame<Bytes>, axum::Error>>,
    rest: Option<Body>,
    tee: Option<Tee>,
}

impl HttpBody for ReplayBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if !self.held.is_empty() {
            return Poll::Ready(Some(self.held.remove(0)));
        }
        let this = &mut *self;
        let Some(rest) = &mut this.rest else {
            return Poll::Ready(None);
        };
        let frame = std::task::ready!(Pin::new(rest).poll_frame(cx));
        if let Some(tee) = &mut this.tee {
            if let Some(Ok(frame)) = &frame {
                if let Some(data) = frame.data_ref() {
                    tee.pass(data);
                }
            }
            // A reader may stop at the last piece without asking for the end: the copy is
            // read as soon as the body says it has ended.
            let ended = frame.is_none() || this.rest.as_ref().is_none_or(HttpBody::is_end_stream);
            if ended {
                tee.finish();
                this.tee = None;
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none()
            && self.held.is_empty()
            && self.rest.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint);
        // Built afresh: raising the lower bound first would exceed the old upper bound,
        // which `SizeHint` answers with a panic.
        let mut hint = SizeHint::new();
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(prefix));
        }
        hint.set_lower(rest.lower().saturating_add(prefix));
        hint
    }
}

/// A response body polled with the request context current, so sinks reached while
/// streaming a response are attributed to their request.
struct ContextBody<B> {
    body: B,
    context: Arc<RequestContext>,
}

impl<B> HttpBody for ContextBody<B>
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = Pin::into_inner(self);
        let context = Arc::clone(&this.context);
        RequestContext::sync_scope(context, || {
            Pin::new(&mut this.body)
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(Into::into)))
        })
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An encoded form and the pairs it holds.
    type FormCase = (&'static [u8], &'static [(&'static str, &'static str)]);

    #[test]
    fn form_pairs_decode_as_browsers_encode() {
        let cases: [FormCase; 7] = [
            (b"id=1&name=Ann+Lee", &[("id", "1"), ("name", "Ann Lee")]),
            (b"q=%27%20OR%201%3D1--", &[("q", "' OR 1=1--")]),
            (b"a=b=c", &[("a", "b=c")]),
            (b"&&flag&", &[("flag", "")]),
            (b"bad=%zz%4", &[("bad", "%zz%4")]),
            (b"bytes=%ff%fe", &[("bytes", "\u{fffd}\u{fffd}")]),
            (b"caf%C3%A9=%E2%9C%93", &[("caf\u{e9}", "\u{2713}")]),
        ];
        for (encoded, expected) in cases {
            let pairs: Vec<(String, String)> = form_pairs(encoded)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect();
            assert_eq!(pairs, expected, "{}", String::from_utf8_lossy(encoded));
        }
    }

    #[test]
    fn json_text_that_does_not_parse_still_yields_its_strings_and_numbers() {
        let values = |text: &[u8]| -> Vec<String> {
            json_scalars(text)
                .into_iter()
                .map(|input| input.value)
                .collect()
        };
        assert_eq!(
            values(br#"{"q": "it's", "z": "\ud800", "n": 1e400}"#),
            ["q", "it's", "z", "\u{fffd}", "n", "1e400"]
        );
        assert_eq!(
            values(b"[\"a\\\"b\\n\", \"\\u00e9\\ud83d\\ude00\", \"\xff\", -2.5]"),
            ["a\"b\n", "\u{e9}\u{1f600}", "\u{fffd}", "-2.5"]
        );
        assert_eq!(values(br#"{"cut": "' OR 1=1"#), ["cut", "' OR 1=1"]);
        assert_eq!(values(br#""\u12""#), ["\u{fffd}12"]);
    }

    #[test]
    fn a_body_is_read_in_the_format_axum_would_read_it_in() {
        let multipart = |boundary: &str| BodyFormat::Multipart {
            boundary: boundary.into(),
        };
        for (content_type, format) in [
            ("application/x-www-form-urlencoded", BodyFormat::Form),
            (
                "Application/X-WWW-Form-Urlencoded; charset=utf-8",
                BodyFormat::Form,
            ),
            ("application/x-www-form-urlencodedX", BodyFormat::Form),
            ("application/json", BodyFormat::Json),
            ("application/json; charset=utf-8", BodyFormat::Json),
            ("application/problem+json", BodyFormat::Json),
            ("application/json+xml", BodyFormat::Json),
            ("multipart/form-data; boundary=XyZ", multipart("XyZ")),
            ("Multipart/Form-Data; Boundary=\"a b\"", multipart("a b")),
            ("multipart/form-data", BodyFormat::Other),
            ("multipart/mixed; boundary=x", BodyFormat::Other),
            ("text/plain", BodyFormat::Other),
            ("text/json", BodyFormat::Other),
        ] {
            let value = HeaderValue::from_static(content_type);
            assert_eq!(body_format(Some(&value)), format, "{content_type}");
        }
        assert_eq!(body_format(None), BodyFormat::Other);
    }

    /// The values of a multipart body's inputs, by name.
    fn multipart_fields(body: &[u8], whole: bool) -> Vec<(String, String)> {
        multipart_inputs(body, "B0undary", whole)
            .into_iter()
            .map(|input| (input.name, input.value))
            .collect()
    }

    #[test]
    fn multipart_parts_are_inputs_named_by_their_disposition() {
        let body = b"preamble\r\n--B0undary\r\n\
            Content-Disposition: form-data; name=\"q\"\r\n\r\n\
            it's\r\n--B0undary\r\n\
            content-disposition: form-data; name=\"upload\"; filename=\"a'b.txt\"\r\n\
            Content-Type: text/plain\r\n\r\n\
            line one\r\n--B0undary\r\nnot quite the end\r\n\r\n\
            x --B0undary inside\r\n--B0undary--\r\nepilogue";
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect()
        };
        let expected = owned(&[
            ("q", "it's"),
            ("upload (file name)", "a'b.txt"),
            ("upload", "line one"),
            ("", "x --B0undary inside"),
        ]);
        assert_eq!(multipart_fields(body, true), expected);
        // Cut short, a part no boundary closes yet is left for when the body is whole.
        let cut = &body[..body.len() - 40];
        assert_eq!(multipart_fields(cut, false), expected[..3]);
        assert_eq!(multipart_fields(cut, true).len(), 4);
        assert_eq!(
            multipart_fields(
                b"--B0undary\r\nContent-Disposition: form-data; name=f; \
                  filename*=UTF-8''caf%C3%A9.txt\r\n\r\n\r\n--B0undary--",
                true
            ),
            owned(&[("f (file name)", "caf\u{e9}.txt"), ("f", "")])
        );
        assert!(multipart_fields(b"no boundary at all", true).is_empty());
    }

    #[test]
    fn every_body_is_read_whole_and_as_what_it_looks_like_whatever_its_type_says() {
        let found = |format: BodyFormat, body: &[u8]| -> Vec<(Source, String)> {
            body_inputs(&format, body)
                .into_iter()
                .map(|input| (input.source, input.value))
                .collect()
        };
        let json = br#" {"q": "it's"}"#;
        let whole_json = (Source::Body, String::from_utf8_lossy(json).into_owned());
        // `q` is a plain word: as a key it is no input.
        let json_fields = [(Source::Json, "it's".to_owned())];
        for format in [BodyFormat::Other, BodyFormat::Form, BodyFormat::Json] {
            // Read as the form it is labelled, the document is one field's name.
            let mut expected = match format {
                BodyFormat::Form => vec![
                    (Source::Form, whole_json.1.clone()),
                    (Source::Form, String::new()),
                ],
                _ => Vec::new(),
            };
            if format == BodyFormat::Json {
                expected.extend(json_fields.iter().cloned());
                expected.push(whole_json.clone());
            } else {
                expected.push(whole_json.clone());
                expected.extend(json_fields.iter().cloned());
            }
            assert_eq!(found(format.clone(), json), expected, "{format:?}");
        }
        for format in [BodyFormat::Other, BodyFormat::Json] {
            assert_eq!(
                found(format, b"q=a%27b")
                    .into_iter()
                    .filter(|(source, _)| *source != Source::Json)
                    .collect::<Vec<_>>(),
                [
                    (Source::Body, "q=a%27b".to_owned()),
                    (Source::Form, "a'b".to_owned()),
                ]
            );
        }
        assert_eq!(
            found(BodyFormat::Other, b"plain \xff"),
            [(Source::Body, "plain \u{fffd}".to_owned())]
        );
    }

    /// The inputs decoded from a request with these headers.
    fn header_inputs(headers: &[(&str, &[u8])]) -> Vec<(String, String)> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        let request = CapturedRequest {
            method: Method::GET,
            uri: Uri::from_static("/"),
            route: None,
            params: None,
            headers: HeaderCopy::of(&map),
            body: Vec::new(),
            body_uninspected: false,
        };
        let table = request.decode();
        table
            .iter()
            .map(|input| (input.location.name.to_owned(), input.value.to_owned()))
            .collect()
    }

    #[test]
    fn a_parameter_s_name_is_an_input_only_when_it_is_more_than_a_plain_word() {
        let request = CapturedRequest {
            method: Method::GET,
            uri: Uri::from_static("/shop/garden%20tools/a_b?id=1&it%27s=2"),
            route: None,
            params: None,
            headers: HeaderCopy::of(&HeaderMap::new()),
            body: Vec::new(),
            body_uninspected: false,
        };
        let table = request.decode();
        let found: Vec<(&str, &str)> = table
            .iter()
            .map(|input| (input.location.name, input.value))
            .collect();
        assert_eq!(
            found,
            [
                ("id", "1"),
                ("it's (key)", "it's"),
                ("it's", "2"),
                ("(path segment)", "garden tools"),
            ]
        );
    }

    #[test]
    fn credentials_are_inputs_and_basic_ones_are_decoded() {
        let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect()
        };
        // `ann:it's` in Base64, once padded and once not.
        for encoded in ["YW5uOml0J3M=", "YW5uOml0J3M"] {
            let header = format!("Basic {encoded}");
            assert_eq!(
                header_inputs(&[("authorization", header.as_bytes())]),
                pairs(&[
                    ("authorization", &header),
                    ("authorization (credentials)", encoded),
                    ("authorization (user)", "ann"),
                    ("authorization (password)", "it's"),
                ])
            );
        }
        assert_eq!(
            header_inputs(&[("proxy-authorization", b"Bearer it's")]),
            pairs(&[
                ("proxy-authorization", "Bearer it's"),
                ("proxy-authorization (credentials)", "it's"),
            ])
        );
    }

    #[test]
    fn encoded_quoted_and_non_ascii_header_values_are_read_as_applications_read_them() {
        let found = header_inputs(&[
            ("cookie", b"q=it%27s; plain=tea; quoted=\"a b\""),
            ("x-name", "Zo\u{eb}".as_bytes()),
            ("x-raw", b"\xff'"),
        ]);
        let values: Vec<&str> = found.iter().map(|(_, value)| value.as_str()).collect();
        assert_eq!(
            values,
            [
                "it%27s",
                "it's",
                "tea",
                "\"a b\"",
                "a b",
                "Zo\u{eb}",
                "\u{fffd}'"
            ]
        );
    }

    #[test]
    fn json_names_stay_short_however_deep_the_document() {
        let key = "k".repeat(320);
        let mut document = format!("[{}]", vec!["1"; 16_000].join(","));
        for _ in 0..100 {
            document = format!("{{\"{key}\":{document}}}");
        }
        let inputs = json_inputs(document.as_bytes());
        assert_eq!(inputs.len(), 16_000);
        let longest = inputs.iter().map(|input| input.name.len()).max();
        assert!(
            longest <= Some(3 + MAX_NAME + KEY_SUFFIX.len()),
            "{longest:?}"
        );
        let last = inputs.last().expect("inputs");
        assert!(last.name.starts_with("...") && last.name.ends_with("[15999]"));
    }

    #[test]
    fn a_plain_pair_is_borrowed_not_copied() {
        let (name, value) = form_pairs(b"id=42").next().expect("one pair");
        assert!(matches!(name, Cow::Borrowed("id")));
        assert!(matches!(value, Cow::Borrowed("42")));
    }
}
