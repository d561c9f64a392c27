import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore

/// The middleware of every `/ui` route:
/// 1. finds the session from the `sluice_session` cookie (only here: the API never reads cookies, so a cookie can
///    never authenticate an `/api` call) and makes the request act as its user;
/// 2. on every POST reads the form and checks its `csrf` field against the session's token (or, before sign-in,
///    against the `sluice_login` cookie) → 403 on mismatch, before any handler runs;
/// 3. turns errors into HTML pages: a GET that needs a sign-in goes to the sign-in page, other errors keep their
///    status.
struct WebUIMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext

    let sessions: WebSessionStore
    let access: WebUIAccess

    static let sessionCookie = "sluice_session"
    static let loginCookie = "sluice_login"

    func handle(
        _ request: Request, context: SluiceRequestContext,
        next: (Request, SluiceRequestContext) async throws -> Response
    ) async throws -> Response {
        var viewer = WebViewer.anonymous
        if let id = WebCookies.value(Self.sessionCookie, in: request), let session = await sessions.session(id: id) {
            if await access.userExists(session.userName) {
                viewer.session = session
                viewer.csrfToken = session.csrfToken
            } else {
                await sessions.delete(id: id)
            }
        }
        if viewer.session == nil {
            viewer.csrfToken = WebCookies.value(Self.loginCookie, in: request) ?? ""
        }
        viewer.isAdministrator = await access.allows(.administer, feed: nil, identity: viewer.identity)
        let context = access.context(context, as: viewer)

        var form = WebForm()
        if request.method == .post {
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: WebForm.maximumSize)
            } catch {
                return errorPage(
                    SluiceError(.payloadTooLarge, "The form is larger than \(WebForm.maximumSize) bytes."),
                    request: request, viewer: viewer, context: context)
            }
            form = WebForm(urlencoded: String(buffer: buffer))
            guard !viewer.csrfToken.isEmpty, let sent = form.raw("csrf"),
                Self.constantTimeEqual(Array(sent.utf8), Array(viewer.csrfToken.utf8))
            else {
                context.logger.notice(
                    "Web UI form refused: CSRF token mismatch", metadata: ["path": "\(request.uri.path)"])
                return errorPage(
                    SluiceError(
                        .forbidden,
                        "The form expired or did not come from this site (CSRF check failed). Reload the page and try again."
                    ),
                    request: request, viewer: viewer, context: context)
            }
        }
        do {
            return try await WebUIRequest.$viewer.withValue(viewer) {
                try await WebUIRequest.$form.withValue(form) {
                    try await next(request, context)
                }
            }
        } catch {
            return errorPage(error, request: request, viewer: viewer, context: context)
        }
    }

    /// The HTML answer to an error; a GET that needs a sign-in redirects to the sign-in page instead.
    func errorPage(
        _ error: any Error, request: Request, viewer: WebViewer, context: SluiceRequestContext
    ) -> Response {
        let status: HTTPResponse.Status
        let message: String
        switch error {
        case let error as SluiceError:
            status = error.status
            message = error.message
            if error.code == .internalError || error.code == .storageFailure {
                context.logger.error(
                    "Web UI request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
        case let error as HTTPError:
            status = error.status
            message = error.body ?? "The request cannot be answered (\(error.status.code))."
        default:
            status = .internalServerError
            message = "Something went wrong; the server log has the details."
            context.logger.error(
                "Web UI request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
        }
        let next = WebFormat.nextPath(request)
        if status == .unauthorized, request.method == .get {
            return WebUIRenderer.redirect("/ui/signin?next=\(WebUIFormat.urlComponent(next))")
        }
        let heading: String =
            switch status.code {
            case 401: "Sign in required"
            case 403: "Not allowed"
            case 404: "Not found"
            case 400, 409, 422: "That did not work"
            case 429: "Too many attempts"
            default: "Something went wrong"
            }
        return WebUIRenderer.page(
            "error", title: heading,
            data: [
                "heading": heading, "message": message, "signIn": !viewer.isSignedIn && status.code == 401,
                "next": WebUIFormat.urlComponent(next),
            ],
            viewer: viewer, status: status)
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}

enum WebFormat {
    /// The path (and query) of a UI request, to come back to after signing in.
    static func nextPath(_ request: Request) -> String {
        let path = request.uri.path
        guard path.hasPrefix("/ui/") else { return "/ui/feeds" }
        if let query = request.uri.query, !query.isEmpty { return path + "?" + query }
        return path
    }
}
