import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore

/// The web UI: server-rendered pages under `/ui/` (plus `GET /` → `/ui/feeds`) for feeds, packages, promotion,
/// connectors and administration. It is a face for the REST API: reads come from the same stores, publisher and
/// mirror; changes go through the API's own handlers (``APIBridge``) or the services they use, with the same
/// security checks.
///
/// Sessions are kept in memory (``WebSessionStore``): with several instances behind a load balancer, use sticky
/// sessions. Register it with `WebUIController(services:).addRoutes(to: router)`.
public struct WebUIController: Sendable {
    let services: SluiceServices
    let sessions: WebSessionStore
    let indexes = PackageIndexCache()
    var access: WebUIAccess { WebUIAccess(services: services) }

    /// Creates the UI over `services`, with an empty session store.
    public init(services: SluiceServices) {
        self.init(services: services, sessions: WebSessionStore())
    }

    init(services: SluiceServices, sessions: WebSessionStore) {
        self.services = services
        self.sessions = sessions
    }

    /// Adds `GET /` and every `/ui/**` route to `router`.
    public func addRoutes(to router: Router<SluiceRequestContext>) {
        router.get("/") { _, _ in WebUIRenderer.redirect("/ui/feeds", status: .found) }
        router.get("ui/assets/sluice.css") { _, _ in Self.asset(WebUIAssets.stylesheet, type: "text/css; charset=utf-8")
        }
        router.get("ui/assets/sluice.js") { _, _ in
            Self.asset(WebUIAssets.script, type: "text/javascript; charset=utf-8")
        }
        let ui = router.group("ui").add(middleware: WebUIMiddleware(sessions: sessions, access: access))
        ui.get("") { _, _ in WebUIRenderer.redirect("/ui/feeds", status: .found) }
        ui.get("signin", use: signInPage)
        ui.post("signin", use: signIn)
        ui.post("signout", use: signOut)
        addFeedRoutes(to: ui)
        addPackageRoutes(to: ui)
        addConnectorRoutes(to: ui)
        addAdministrationRoutes(to: ui)
        addComplianceRoutes(to: ui)
        // Any other path under /ui gets the UI's own 404 page rather than the API's JSON error.
        ui.get("**") { request, _ -> Response in
            throw SluiceError.notFound("There is no page at \(request.uri.path).")
        }
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=86400"
        headers[.xContentTypeOptions] = "nosniff"
        let buffer = ByteBuffer(string: text)
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
    }

    // MARK: Sign in and out

    /// `GET /ui/signin?next=/ui/...`: the sign-in form. Sets the `sluice_login` cookie whose value the form carries
    /// (the CSRF check of the sign-in post); a signed-in viewer goes straight to `next`.
    @Sendable func signInPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        let next = Self.safeNext(request.uri.queryParameters.get("next"))
        if viewer.isSignedIn { return WebUIRenderer.redirect(next) }
        return loginForm(request: request, next: next, error: nil, username: "", status: .ok)
    }

    private func loginForm(
        request: Request, next: String, error: String?, username: String, status: HTTPResponse.Status
    ) -> Response {
        let token = WebSessionStore.randomToken()
        var viewer = WebViewer.anonymous
        viewer.csrfToken = token
        var data: [String: Any] = ["loginCSRF": token, "next": next, "username": username]
        if let error { data["error"] = error }
        let signedOut = request.uri.queryParameters.get("signedout") != nil
        var response = WebUIRenderer.page(
            "signin", title: "Sign in", data: data, viewer: viewer,
            flash: signedOut && error == nil ? Flash(kind: .note, message: "You are signed out.") : nil,
            status: status)
        response.headers.append(
            HTTPField(
                name: .setCookie,
                value: WebCookies.setCookie(WebUIMiddleware.loginCookie, value: token, request: request, maxAge: 3600)))
        return response
    }

    /// `POST /ui/signin` (`username`, `password`, `next`, `csrf`): checks the password with the same sign-in as the
    /// API (rate limited, logged), starts a session and sets the `sluice_session` cookie (HttpOnly, SameSite=Lax,
    /// Path=/ui, Secure over TLS), then goes to `next`. A wrong password shows the form again with 401.
    @Sendable func signIn(request: Request, context: SluiceRequestContext) async throws -> Response {
        let form = WebUIRequest.form
        let next = Self.safeNext(form["next"])
        let username = form["username"] ?? ""
        let identity: Identity
        do {
            identity = try await access.signIn(
                user: username, password: form.raw("password") ?? "", remoteAddress: context.remoteAddress)
        } catch {
            guard error.code == .unauthenticated || error.code == .forbidden || error.code == .invalidInput else {
                throw error
            }
            return loginForm(
                request: request, next: next, error: "Invalid user name or password.", username: username,
                status: .unauthorized)
        }
        if let old = WebCookies.value(WebUIMiddleware.sessionCookie, in: request) {
            await sessions.delete(id: old)
        }
        let session = await sessions.create(identity: identity)
        context.logger.info("Web UI sign-in", metadata: ["user": "\(session.userName)"])
        var headers = HTTPFields()
        headers.append(
            HTTPField(
                name: .setCookie,
                value: WebCookies.setCookie(WebUIMiddleware.sessionCookie, value: session.id, request: request)))
        headers.append(
            HTTPField(
                name: .setCookie,
                value: WebCookies.setCookie(WebUIMiddleware.loginCookie, value: "", request: request, maxAge: 0)))
        return WebUIRenderer.redirect(next, headers: headers)
    }

    /// `POST /ui/signout` (`csrf`): deletes the session and its cookie, then shows the feeds as an anonymous visitor.
    @Sendable func signOut(request: Request, context: SluiceRequestContext) async throws -> Response {
        if let id = WebCookies.value(WebUIMiddleware.sessionCookie, in: request) {
            await sessions.delete(id: id)
        }
        var headers = HTTPFields()
        headers.append(
            HTTPField(
                name: .setCookie,
                value: WebCookies.setCookie(WebUIMiddleware.sessionCookie, value: "", request: request, maxAge: 0)))
        return WebUIRenderer.redirect("/ui/signin?signedout=1", headers: headers)
    }

    /// `next` when it is a path of the UI (never another site), else `/ui/feeds`.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/ui/"), !next.hasPrefix("//"), !next.contains("\\"),
            !next.contains("\r"), !next.contains("\n")
        else { return "/ui/feeds" }
        return next
    }

    // MARK: Helpers of the pages

    /// After a form post: keep `flash` for the next page and redirect there (post/redirect/get).
    func redirect(_ location: String, flash: Flash?) async -> Response {
        if let flash, let id = WebUIRequest.viewer.session?.id {
            await sessions.setFlash(flash, sessionID: id)
        }
        return WebUIRenderer.redirect(location)
    }

    /// Renders a page for the current viewer, with the flash message kept for it, if any.
    func page(
        _ template: String, title: String, data: [String: Any], active: String, flash: Flash? = nil,
        status: HTTPResponse.Status = .ok
    ) async -> Response {
        let viewer = WebUIRequest.viewer
        var shown = flash
        if shown == nil, let id = viewer.session?.id {
            shown = await sessions.takeFlash(sessionID: id)
        }
        return WebUIRenderer.page(
            template, title: title, data: data, viewer: viewer, active: active, flash: shown, status: status)
    }

    /// The request's context acting as the viewer, for the API handlers.
    func apiContext(_ context: SluiceRequestContext) -> SluiceRequestContext {
        access.context(context, as: WebUIRequest.viewer)
    }

    /// The base URL clients reach this server at, from the request (`X-Forwarded-Proto`/`Host`).
    static func baseURL(_ request: Request) -> String {
        let scheme = WebCookies.isSecure(request) ? "https" : "http"
        let host =
            request.headers[HTTPField.Name("X-Forwarded-Host")!]?.split(separator: ",").first.map(String.init)
            ?? request.head.authority ?? "localhost"
        return "\(scheme)://\(host.trimmingCharacters(in: .whitespaces))"
    }
}
