import Hummingbird
import Logging
import NIOCore

/// The request context of every Sluice route.
public struct SluiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user's name, set by the authentication middleware; nil for anonymous requests.
    public var userName: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.userName = nil
    }

    /// Request bodies are streamed by the upload routes, which enforce their own limit; the default collection limit
    /// applies to JSON bodies only.
    public var maxUploadSize: Int { 1 << 20 }
}
