/* curl_user: a program that uses libcurl (and so OpenSSL) itself, for the
 * test that the shim's own libcurl use changes nothing for it: fetches URL
 * twice (https, trusting CA_FILE), once before and once after a
 * curl_global_cleanup/init cycle, prints the status codes, and cleans up
 * globally at the end, as well-behaved programs do.
 * Usage: curl_user URL CA_FILE */
#include <curl/curl.h>
#include <stdio.h>

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
    (void)p;
    (void)ctx;
    return size * n;
}

static long fetch(const char *url, const char *ca) {
    CURL *h = curl_easy_init();
    if (!h) return -1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "hello");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    long status = -1;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long a = fetch(argv[1], argv[2]);
    curl_global_cleanup();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long b = fetch(argv[1], argv[2]);
    printf("%ld %ld\n", a, b);
    curl_global_cleanup();
    return a == 200 && b == 200 ? 0 : 1;
}
