# The tutorial's client for the selectors server (selectors模块 客户端), indentation restored.
# Only the port differs: the test replaces 8088 with the model's port.
from socket import *
c=socket(AF_INET,SOCK_STREAM)
c.connect(('127.0.0.1',8088))
while True:
    msg=input('>>: ')
    if not msg:continue
    c.send(msg.encode('utf-8'))
    data=c.recv(1024)
    print(data.decode('utf-8'))
