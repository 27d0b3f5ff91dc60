#!/usr/bin/ruby
# frozen_string_literal: true

# Scalelite Serverless post_publish hook (install in /usr/local/bigbluebutton/core/scripts/post_publish/).
#
# BBB runs it as `ruby <this file> -m <recordID> -f <format>`, once per published format (and again on
# `bbb-record --rebuild`), synchronously inside the publish worker. So it only ENQUEUES: it appends the format to
# the queue entry <queue>/<recordID> (under the lock the uploader also takes) and asks systemd to start the
# uploader in the background. The scalelite-serverless-upload.path unit starts it too, and the .timer retries.
# The upload itself is bbb-server/post_publish.py --drain-queue <queue>.

require 'fileutils'
require 'optparse'

QUEUE_DIR = '/var/bigbluebutton/recording/scalelite-serverless/queue'
SERVICE = 'scalelite-serverless-upload.service'
NAME = /\A[A-Za-z0-9][A-Za-z0-9_-]{0,127}\z/ # a recordID or a format name, safe as a file name

record_id = nil
format = nil
begin
  OptionParser.new do |opts|
    opts.on('-m', '--meeting-id ID') { |v| record_id = v }
    opts.on('-f', '--format FORMAT') { |v| format = v }
  end.parse!(ARGV)
rescue OptionParser::ParseError => e
  warn "scalelite-serverless: #{e.message}"
  exit 1
end

unless record_id&.match?(NAME) && (format.nil? || format.match?(NAME))
  warn "scalelite-serverless: usage: #{$PROGRAM_NAME} -m <recordID> [-f <format>]"
  exit 1
end

FileUtils.mkdir_p(QUEUE_DIR)
File.open("#{QUEUE_DIR}.lock", File::RDWR | File::CREAT, 0o644) do |lock|
  lock.flock(File::LOCK_EX)
  File.open(File.join(QUEUE_DIR, record_id), 'a') { |entry| entry.puts(format.to_s) }
end
puts "scalelite-serverless: queued #{record_id} #{format}"

# Best effort (the .path unit is the reliable trigger): never block, never ask for a password.
system('systemctl', 'start', '--no-block', '--no-ask-password', SERVICE, out: File::NULL, err: File::NULL)
exit 0
